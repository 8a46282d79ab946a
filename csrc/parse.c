/*
 * parse.c - enom.core.parse(body [, format]): picks the format's parser.
 *
 * The parse files form a tree: this entry point calls the format parsers
 * (parse_xml.c, parse_kv.c), which fill the result table through the
 * helpers of parse_result.c; nothing calls back up.
 */
#include "parse.h"

static const char *const formats[] = { "xml", "text", "html", NULL };

/* core.parse(body [, format]) -> table | nil, "parse error: ..."
 * format is "xml", "text" (default) or "html". */
int enom_l_parse(lua_State *L)
{
    size_t len;
    const char *body;
    int fmt;
    luaL_checktype(L, 1, LUA_TSTRING);
    body = lua_tolstring(L, 1, &len);
    fmt = luaL_checkoption(L, 2, "text", formats);
    lua_settop(L, 2);
    if (len == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "parse error: empty body");
        return 2;
    }
    switch (fmt) {
    case 0:
        return enom_parse_xml(L, body, len);
    case 2:
        return enom_parse_html(L, body, len);
    default:
        return enom_parse_text(L, body, len);
    }
}
