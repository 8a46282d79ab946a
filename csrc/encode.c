/*
 * encode.c - application/x-www-form-urlencoded bodies and query strings.
 *
 *   core.encode(params [, groups]) -> string
 *
 * params maps parameter names to scalars (string, number, boolean) or to
 * arrays of scalars, which become indexed parameters (Name1, Name2, ...).
 * groups is an array of { records = {...}, fields = { {key, Name}, ... },
 * name = "users" }: record i's field key becomes parameter Name<i>. This
 * is how eNom's indexed groups (UserName1, Password1, IsAdmin1, ...) are
 * described by data rather than by code.
 *
 * Every byte outside A-Z a-z 0-9 - . _ ~ is percent-encoded (space as
 * '+'), so no value can add or change a parameter. Names are sorted so
 * that the same input always gives the same bytes.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enom.h"

#define BUF_MT "enom.encode.buffer"

static const char HEX[] = "0123456789ABCDEF";

/* 1 for bytes that travel unencoded. */
static unsigned char plain[256];
static int plain_ready = 0;

static void init_plain(void)
{
    int c;
    if (plain_ready)
        return;
    for (c = 'A'; c <= 'Z'; c++)
        plain[c] = 1;
    for (c = 'a'; c <= 'z'; c++)
        plain[c] = 1;
    for (c = '0'; c <= '9'; c++)
        plain[c] = 1;
    plain['-'] = plain['.'] = plain['_'] = plain['~'] = 1;
    plain_ready = 1;
}

/* The output buffer lives in a userdata so that an argument error
 * raised half-way frees it through __gc. */
static int buf_gc(lua_State *L)
{
    enom_buf *b = (enom_buf *)luaL_checkudata(L, 1, BUF_MT);
    enom_buf_free(b);
    return 0;
}

static enom_buf *new_box(lua_State *L)
{
    enom_buf *b = (enom_buf *)lua_newuserdata(L, sizeof(enom_buf));
    enom_buf_init(b, 0);
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void put(lua_State *L, enom_buf *b, const char *p, size_t n)
{
    if (enom_buf_append(b, p, n) != ENOM_BUF_OK)
        luaL_error(L, "encode: out of memory");
}

/* Percent-encode n bytes of p onto b, in runs of plain bytes. */
static void put_escaped(lua_State *L, enom_buf *b, const char *p, size_t n)
{
    size_t i, run = 0;
    char esc[3];
    esc[0] = '%';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (plain[c])
            continue;
        if (i > run)
            put(L, b, p + run, i - run);
        if (c == ' ') {
            put(L, b, "+", 1);
        } else {
            esc[1] = HEX[c >> 4];
            esc[2] = HEX[c & 15];
            put(L, b, esc, 3);
        }
        run = i + 1;
    }
    if (n > run)
        put(L, b, p + run, n - run);
}

/* Raise an argument error naming where the bad value was found. */
static int bad_value(lua_State *L, const char *where, int index, const char *what)
{
    if (index > 0)
        return luaL_error(L, "bad argument to 'encode' (%s[%d]: %s)", where, index, what);
    return luaL_error(L, "bad argument to 'encode' (%s: %s)", where, what);
}

/* Write the scalar at stack index idx as text. `where`/`index` name it
 * in error messages; the value itself is never echoed. */
static void put_scalar(lua_State *L, enom_buf *b, int idx, const char *where, int index)
{
    char num[64];
    int n;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_escaped(L, b, s, len);
        return;
    }
    case LUA_TNUMBER: {
        long long iv;
        lua_Number d = lua_tonumber(L, idx);
        if (enom_tointeger(L, idx, &iv)) {
            n = snprintf(num, sizeof num, "%lld", iv);
        } else {
            if (isnan(d))
                bad_value(L, where, index, "NaN is not a value");
            if (isinf(d))
                bad_value(L, where, index, "infinity is not a value");
            n = snprintf(num, sizeof num, "%.14g", (double)d);
        }
        put_escaped(L, b, num, (size_t)n);
        return;
    }
    case LUA_TBOOLEAN:
        put(L, b, lua_toboolean(L, idx) ? "1" : "0", 1);
        return;
    default:
        bad_value(L, where, index, lua_pushfstring(L, "%s is not a value", luaL_typename(L, idx)));
    }
}

static void put_name(lua_State *L, enom_buf *b, const char *name, size_t len, int index)
{
    if (b->len > 0)
        put(L, b, "&", 1);
    put_escaped(L, b, name, len);
    if (index > 0) {
        char num[24];
        int n = snprintf(num, sizeof num, "%d", index);
        put(L, b, num, (size_t)n);
    }
    put(L, b, "=", 1);
}

/* Length of the sequence at idx; raises if it has holes or other keys. */
static int check_sequence(lua_State *L, int idx, const char *where)
{
    int n = (int)lua_rawlen(L, idx), count = 0, i;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1))
            bad_value(L, where, i, "hole in array");
        lua_pop(L, 1);
    }
    if (count != n) {
        /* The border # found is not the end (holes are VM-dependent):
         * name the first missing index, or the key that is no index. */
        long long max = 0, iv = 0;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TNUMBER || !enom_tointeger(L, -1, &iv) || iv < 1)
                bad_value(L, where, 0, "array has a key that is not a positive integer");
            if (iv > max)
                max = iv;
        }
        for (i = 1; i <= max && i < INT_MAX; i++) {
            lua_rawgeti(L, idx, i);
            if (lua_isnil(L, -1))
                bad_value(L, where, i, "hole in array");
            lua_pop(L, 1);
        }
    }
    return n;
}

typedef struct name_ref {
    const char *s;
    size_t len;
} name_ref;

static int cmp_names(const void *a, const void *b)
{
    const name_ref *x = (const name_ref *)a, *y = (const name_ref *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void encode_params(lua_State *L, enom_buf *b, int t)
{
    size_t count = 0, i;
    name_ref *names;

    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad argument #1 to 'encode' (parameter names must be strings, got %s)",
                       luaL_typename(L, -1));
        count++;
    }
    /* Keys stay anchored by the params table, so pointers into them
     * remain valid while we hold it. */
    names = (name_ref *)lua_newuserdata(L, (count ? count : 1) * sizeof(name_ref));
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        names[i].s = lua_tolstring(L, -1, &names[i].len);
        if (names[i].len == 0)
            luaL_error(L, "bad argument #1 to 'encode' (empty parameter name)");
        i++;
    }
    qsort(names, count, sizeof(name_ref), cmp_names);

    for (i = 0; i < count; i++) {
        lua_pushlstring(L, names[i].s, names[i].len);
        lua_rawget(L, t);
        if (lua_istable(L, -1)) {
            int n = check_sequence(L, lua_gettop(L), names[i].s), k;
            for (k = 1; k <= n; k++) {
                lua_rawgeti(L, -1, k);
                put_name(L, b, names[i].s, names[i].len, k);
                put_scalar(L, b, -1, names[i].s, k);
                lua_pop(L, 1);
            }
        } else {
            put_name(L, b, names[i].s, names[i].len, 0);
            put_scalar(L, b, -1, names[i].s, 0);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* names */
}

/* One group: records[i][key] -> Name<i> for each { key, Name } field. */
static void encode_group(lua_State *L, enom_buf *b, int g, int gi)
{
    int records, fields, nrec, nfields, r, f;
    const char *gname;
    char where[96];

    lua_getfield(L, g, "name");
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        snprintf(where, sizeof where, "groups[%d]", gi);
        lua_pushstring(L, where);
    }
    gname = lua_tostring(L, -1);
    lua_getfield(L, g, "records");
    records = lua_gettop(L);
    lua_getfield(L, g, "fields");
    fields = lua_gettop(L);
    if (!lua_istable(L, records))
        luaL_error(L, "bad argument #2 to 'encode' (%s: records must be a table)", gname);
    if (!lua_istable(L, fields))
        luaL_error(L, "bad argument #2 to 'encode' (%s: fields must be a table)", gname);
    nrec = check_sequence(L, records, gname);
    nfields = (int)lua_rawlen(L, fields);

    for (r = 1; r <= nrec; r++) {
        lua_rawgeti(L, records, r);
        if (!lua_istable(L, -1))
            bad_value(L, gname, r, "record must be a table");
        for (f = 1; f <= nfields; f++) {
            size_t nlen;
            const char *key, *name;
            lua_rawgeti(L, fields, f);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            key = lua_tostring(L, -2);
            name = lua_tolstring(L, -1, &nlen);
            if (key == NULL || name == NULL || nlen == 0)
                luaL_error(L, "bad argument #2 to 'encode' (%s: fields[%d] must be {key, Name})", gname, f);
            lua_getfield(L, -4, key);
            if (!lua_isnil(L, -1)) {
                snprintf(where, sizeof where, "%s[%d].%s", gname, r, key);
                put_name(L, b, name, nlen, r);
                put_scalar(L, b, -1, where, 0);
            }
            lua_pop(L, 4);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 3);
}

int enom_l_encode(lua_State *L)
{
    enom_buf *b;
    int ngroups, gi;

    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    init_plain();
    b = new_box(L); /* index 3 */

    encode_params(L, b, 1);
    if (!lua_isnil(L, 2)) {
        ngroups = check_sequence(L, 2, "groups");
        for (gi = 1; gi <= ngroups; gi++) {
            lua_rawgeti(L, 2, gi);
            if (!lua_istable(L, -1))
                luaL_error(L, "bad argument #2 to 'encode' (groups[%d] must be a table)", gi);
            encode_group(L, b, lua_gettop(L), gi);
            lua_pop(L, 1);
        }
    }
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    enom_buf_free(b);
    return 1;
}
