/*
 * parse_result.h - the result table the format parsers fill; shared by
 * parse_xml.c, parse_kv.c and parse_result.c (which defines it) only.
 *
 * Each format parser finds keys and values in the body and hands them to
 * the enom_result_* helpers, which build the one normalised table that
 * enom.core.parse returns for every format:
 *
 *   { command, err_count, errors, done, responses, fields, indexed, records }
 *
 * A name given once has a string value; a name given more than once (and
 * not as an index) has an array of its strings, in order.
 */
#ifndef ENOM_PARSE_RESULT_H
#define ENOM_PARSE_RESULT_H

#include <stddef.h>

#include "enom.h"

/* "...Count" fields remembered to tell list columns from names that merely
 * end in digits; a Text answer has a handful. */
#define ENOM_MAX_COUNTS 16

/* Lua stack slots of the table under construction and its parts. Errors
 * and responses are first gathered by their index (Err3 -> [3]) and turned
 * into gap-free arrays by enom_result_close. */
typedef struct enom_result {
    int t;         /* the result table */
    int fields;    /* name -> string */
    int indexed;   /* lower(base) -> { [n] = string } (Text/HTML) */
    int records;   /* lower(name) -> { record, ... } (XML) */
    int errors;    /* n -> string */
    int responses; /* n -> { number =, string = } */
    int bases;     /* lower(base) -> the base as first spelt (Text/HTML) */
    long nerr, minerr, maxerr;    /* distinct error indices seen, range */
    long nresp, minresp, maxresp; /* the same for responses */
    long nfound;   /* fields, errors and responses seen */
    int done;      /* a Done field equal to "true" was seen (last wins) */
    int ncounts;   /* values of "...Count" fields, for enom_result_close */
    long counts[ENOM_MAX_COUNTS];
} enom_result;

#define ENOM_RESPONSE_NUMBER 0
#define ENOM_RESPONSE_STRING 1

/* Longest key lowered on the C stack; longer ones go through a userdata. */
#define ENOM_KEY_BUF 128

/* Pushes the result table and its parts; the caller must leave the stack
 * above them balanced between calls. */
void enom_result_open(lua_State *L, enom_result *r, int nfields);

/* t[key] = val, with the key on top of the stack (popped) and t an
 * absolute index. A key met again keeps every value: its value becomes an
 * array of the strings in the order they came. This is the one rule for a
 * repeated name in all three formats: a leaf repeated inside an XML
 * record, a leaf repeated at the top level of an XML answer, and a
 * Text/HTML key repeated without an index (GetOrderList's OrderID). */
void enom_result_put(lua_State *L, int t, const char *val, size_t vlen);

/* A field by its original name (repeated: see enom_result_put). Command,
 * ErrCount and Done (any case) also fill command, err_count and done, the
 * last one seen winning. */
void enom_result_field(lua_State *L, enom_result *r, const char *key, size_t klen, const char *val,
                       size_t vlen);

/* Err<idx>; idx < 0 appends after the largest index seen. */
void enom_result_error(lua_State *L, enom_result *r, long idx, const char *val, size_t vlen);

/* ResponseNumber<idx> or ResponseString<idx> (which = ENOM_RESPONSE_*). */
void enom_result_response(lua_State *L, enom_result *r, long idx, int which, const char *val,
                          size_t vlen);

/* A Text/HTML key: ErrN, ResponseNumberN, ResponseStringN, other keys
 * ending in digits (-> indexed, for now) or a plain field. */
void enom_result_kv(lua_State *L, enom_result *r, const char *key, size_t klen, const char *val,
                    size_t vlen);

/* Finishes the table: pops the parts, leaves the result table on top.
 *
 * A Text/HTML key "Name<digits>" is a list index only when the answer
 * says so: its indexes run 1..n (n the border of the list, as Lua's #)
 * and either n >= 3 or a "...Count" field (not ErrCount or
 * ResponseCount) equals n. Otherwise
 * (Address1 and Address2 of a contact) the keys go back to fields under
 * their own names, as XML gives them. The typed layer, which knows each
 * command's declared shape, reads declared columns from either place. */
void enom_result_close(lua_State *L, enom_result *r);

/* Pushes nil and "parse error: <reason>"; returns 2. The reason must never
 * carry body content: bodies hold passwords. */
int enom_parse_fail(lua_State *L, const char *reason);

/* Pushes s lower-cased (ASCII). */
void enom_push_lower(lua_State *L, const char *s, size_t n);

/* If key ends in 1-9 decimal digits after a non-empty base, sets *baselen
 * and *n and returns 1. */
int enom_split_index(const char *key, size_t klen, size_t *baselen, long *n);

/* Case-insensitive comparison of s[0..n) with the lower-case literal lit. */
int enom_ieq(const char *s, size_t n, const char *lit);

#endif /* ENOM_PARSE_RESULT_H */
