/*
 * compat.h - the one place where Lua 5.4 and LuaJIT 2.1 (5.1 ABI) differ.
 *
 * The sources are written against the Lua 5.4 API. LuaJIT 2.1 already
 * provides luaL_setfuncs, luaL_newlib, luaL_testudata and
 * luaL_setmetatable; what it lacks is lua_rawlen and an integer subtype.
 */
#ifndef ENOM_COMPAT_H
#define ENOM_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Largest magnitude below which every integer is exact in a double. */
#define ENOM_EXACT_DOUBLE 9007199254740992.0

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define enom_pushinteger(L, n) lua_pushnumber((L), (lua_Number)(n))
#else
#define enom_pushinteger(L, n) lua_pushinteger((L), (lua_Integer)(n))
#endif

/* A number is printed as an integer when it is one, whatever its subtype:
 * 5134 and 5134.0 both become "5134". Returns 1 and sets *out if so. */
static inline int enom_tointeger(lua_State *L, int i, long long *out)
{
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, i)) {
        *out = (long long)lua_tointeger(L, i);
        return 1;
    }
#endif
    {
        lua_Number n = lua_tonumber(L, i);
        if (n >= -ENOM_EXACT_DOUBLE && n <= ENOM_EXACT_DOUBLE && (lua_Number)(long long)n == n) {
            *out = (long long)n;
            return 1;
        }
    }
    return 0;
}

#endif /* ENOM_COMPAT_H */
