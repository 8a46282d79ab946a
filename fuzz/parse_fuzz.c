/*
 * parse_fuzz.c - libFuzzer harness for enom.core.parse.
 *
 * The first byte of an input picks the format (xml, text, html), the rest
 * is the body. Each input is parsed through a lua_State as the module is
 * used; the result must be a table or nil plus a "parse error: " string.
 * See fuzz/README.md for building and running it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "enom.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    xmlInitParser();
    L = luaL_newstate();
    return L == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = { "xml", "text", "html" };
    static unsigned long runs;
    int rc;
    if (size < 1)
        return 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, enom_l_parse);
    lua_pushlstring(L, (const char *)data + 1, size - 1);
    lua_pushstring(L, formats[data[0] % 3]);
    rc = lua_pcall(L, 2, 2, 0);
    if (rc != 0)
        abort(); /* a body must never raise */
    if (lua_type(L, 1) != LUA_TTABLE) {
        const char *err = lua_tostring(L, 2);
        if (!lua_isnil(L, 1) || err == NULL || strncmp(err, "parse error: ", 13) != 0)
            abort();
    }
    lua_settop(L, 0);
    if (++runs % 1000 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
