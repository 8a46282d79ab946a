/*
 * core.c - luaopen_enom_core: the C half of the enom module.
 *
 * Users require "enom"; this module is its engine: encoding, parsing,
 * the libcurl transport and a source of secure random bytes.
 */
#include <curl/curl.h>
#include <libxml/parser.h>

#include "enom.h"

static const luaL_Reg core_funcs[] = {
    { "encode", enom_l_encode },
    { "parse", enom_l_parse },
    { "client", enom_l_client },
    { "random_bytes", enom_l_random_bytes },
    { "now", enom_l_now },
    { "sleep", enom_l_sleep },
    { "append_private", enom_l_append_private },
    { "read_private", enom_l_read_private },
    { "isatty", enom_l_isatty },
    { "list_dir", enom_l_list_dir },
    { "fd_kind", enom_l_fd_kind },
    { "hold_std", enom_l_hold_std },
    { "fd_broken", enom_l_fd_broken },
    { "replace_file", enom_l_replace_file },
    { "parse_url", enom_l_parse_url },
    { "signals", enom_l_signals },
    { "ignore_sigpipe", enom_l_ignore_sigpipe },
    { NULL, NULL }
};

void enom_udata_type(lua_State *L, const char *name, const luaL_Reg *methods,
                     lua_CFunction close, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    /* close is safe twice: it runs as __gc after an explicit close. */
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

/* Global library state is set up once per process, on first load.
 * Neither curl_global_cleanup nor xmlCleanupParser is ever called:
 * another module in the same process may still be using them. */
static int enom_global_ready = 0;

LUALIB_API int luaopen_enom_core(lua_State *L);

LUALIB_API int luaopen_enom_core(lua_State *L)
{
    if (!enom_global_ready) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK)
            return luaL_error(L, "enom.core: curl_global_init failed: %s", curl_easy_strerror(rc));
        xmlInitParser();
        enom_global_ready = 1;
    }
    luaL_newlib(L, core_funcs);
    enom_client_register(L);
    enom_lock_register(L);
    lua_pushliteral(L, ENOM_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushnumber(L, ENOM_MAX_SECONDS);
    lua_setfield(L, -2, "MAX_SECONDS");
    lua_pushinteger(L, ENOM_FENCE_EPOCH);
    lua_setfield(L, -2, "FENCE_EPOCH");
    lua_pushinteger(L, ENOM_FENCE_SCALE);
    lua_setfield(L, -2, "FENCE_SCALE");
    lua_pushstring(L, curl_version());
    lua_setfield(L, -2, "curl_version");
    return 1;
}
