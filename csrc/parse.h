/*
 * parse.h - the format parsers, as parse.c calls them.
 *
 * Each pushes the normalised result table (returns 1) or nil and
 * "parse error: <reason>" (returns 2). The table is described in
 * parse_result.h.
 */
#ifndef ENOM_PARSE_H
#define ENOM_PARSE_H

#include <stddef.h>

#include "enom.h"

int enom_parse_xml(lua_State *L, const char *body, size_t len);
int enom_parse_text(lua_State *L, const char *body, size_t len);
int enom_parse_html(lua_State *L, const char *body, size_t len);

#endif /* ENOM_PARSE_H */
