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

/* Percent-encode n bytes of p onto b: room for the worst case (every
 * byte as %XX) is made once, then bytes are written in place. */
static void put_escaped(lua_State *L, enom_buf *b, const char *p, size_t n)
{
    size_t i;
    char *o;
    if (n > ((size_t)-1) / 3 || enom_buf_reserve(b, 3 * n) != ENOM_BUF_OK)
        luaL_error(L, "encode: out of memory");
    o = b->data + b->len;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (plain[c]) {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

/* Decimal digits of v into the end of buf[24]; returns the first. */
static char *fmt_int(char *end, long long v)
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--end = '-';
    return end;
}

/* Where a value was found, for error messages only: built lazily, so
 * the common path formats nothing. */
typedef struct where {
    const char *name;  /* parameter or group name */
    int index;         /* array index or record number, 0 for none */
    const char *field; /* record field, or NULL */
} where;

/* Raise an argument error naming where the bad value was found. The
 * value itself is never echoed: it may be a password. */
static int bad_value(lua_State *L, const where *w, const char *what)
{
    if (w->field)
        return luaL_error(L, "bad argument to 'encode' (%s[%d].%s: %s)", w->name, w->index, w->field, what);
    if (w->index > 0)
        return luaL_error(L, "bad argument to 'encode' (%s[%d]: %s)", w->name, w->index, what);
    return luaL_error(L, "bad argument to 'encode' (%s: %s)", w->name, what);
}

static int bad_at(lua_State *L, const char *name, int index, const char *what)
{
    where w;
    w.name = name;
    w.index = index;
    w.field = NULL;
    return bad_value(L, &w, what);
}

/* Write the scalar at stack index idx as text. */
static void put_scalar(lua_State *L, enom_buf *b, int idx, const where *w)
{
    char num[64];
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
            char *start = fmt_int(num + sizeof num, iv);
            put(L, b, start, (size_t)(num + sizeof num - start));
        } else {
            int n;
            if (isnan(d))
                bad_value(L, w, "NaN is not a value");
            if (isinf(d))
                bad_value(L, w, "infinity is not a value");
            n = snprintf(num, sizeof num, "%.14g", (double)d);
            put_escaped(L, b, num, (size_t)n);
        }
        return;
    }
    case LUA_TBOOLEAN:
        put(L, b, lua_toboolean(L, idx) ? "1" : "0", 1);
        return;
    default:
        bad_value(L, w, lua_pushfstring(L, "%s is not a value", luaL_typename(L, idx)));
    }
}

static void put_name(lua_State *L, enom_buf *b, const char *name, size_t len, int index)
{
    if (b->len > 0)
        put(L, b, "&", 1);
    put_escaped(L, b, name, len);
    if (index > 0) {
        char num[24];
        char *start = fmt_int(num + sizeof num, index);
        put(L, b, start, (size_t)(num + sizeof num - start));
    }
    put(L, b, "=", 1);
}

/* Length of the sequence at idx; raises if it has holes or other keys. */
static int check_sequence(lua_State *L, int idx, const char *name)
{
    int n = (int)lua_rawlen(L, idx), count = 0, i;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n) {
        /* The border # found is not the end (holes are VM-dependent):
         * name the first missing index, or the key that is no index. */
        long long max = 0, iv = 0;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TNUMBER || !enom_tointeger(L, -1, &iv) || iv < 1)
                bad_at(L, name, 0, "array has a key that is not a positive integer");
            if (iv > max)
                max = iv;
        }
        for (i = 1; i <= max && i < INT_MAX; i++) {
            lua_rawgeti(L, idx, i);
            if (lua_isnil(L, -1))
                bad_at(L, name, i, "hole in array");
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

/* An array X becomes X1, X2, ...: a parameter of its own named X1 would
 * be sent twice, and which one the server keeps is anyone's guess. */
static void check_collisions(lua_State *L, int t, const name_ref *name, int n)
{
    int k;
    for (k = 1; k <= n; k++) {
        lua_pushlstring(L, name->s, name->len);
        lua_pushinteger(L, k);
        lua_concat(L, 2);
        lua_rawget(L, t);
        if (!lua_isnil(L, -1))
            luaL_error(L, "bad argument #1 to 'encode' (parameter %s%d is given twice: on its own and as %s[%d])",
                       name->s, k, name->s, k);
        lua_pop(L, 1);
    }
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
            check_collisions(L, t, &names[i], n);
            where w;
            w.name = names[i].s;
            w.field = NULL;
            for (k = 1; k <= n; k++) {
                lua_rawgeti(L, -1, k);
                w.index = k;
                put_name(L, b, names[i].s, names[i].len, k);
                put_scalar(L, b, -1, &w);
                lua_pop(L, 1);
            }
        } else {
            where w;
            w.name = names[i].s;
            w.index = 0;
            w.field = NULL;
            put_name(L, b, names[i].s, names[i].len, 0);
            put_scalar(L, b, -1, &w);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* names */
}

typedef struct group_field {
    const char *key;  /* the record's field */
    const char *name; /* eNom's parameter name, before the index */
    size_t name_len;
} group_field;

/* One group: records[i][key] -> Name<i> for each { key, Name } field.
 * The field list is read once; each value then costs one lookup. */
static void encode_group(lua_State *L, enom_buf *b, int g, int gi)
{
    int records, fields, nrec, nfields, r, f, anchor;
    const char *gname;
    group_field *gf;
    where w;

    lua_getfield(L, g, "name");
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushfstring(L, "groups[%d]", gi);
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

    /* Reading a record's field may run its __index, and that code may
     * empty the fields table and collect the strings in it. Every key and
     * name is therefore anchored in a table of our own, on the stack until
     * the group is done, so the pointers below stay valid throughout. */
    gf = (group_field *)lua_newuserdata(L, (size_t)(nfields > 0 ? nfields : 1) * sizeof(group_field));
    lua_createtable(L, nfields > 0 ? 2 * nfields : 1, 0);
    anchor = lua_gettop(L);
    for (f = 1; f <= nfields; f++) {
        lua_rawgeti(L, fields, f);
        if (!lua_istable(L, -1))
            luaL_error(L, "bad argument #2 to 'encode' (%s: fields[%d] must be {key, Name})", gname, f);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        gf[f - 1].key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        gf[f - 1].name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &gf[f - 1].name_len) : NULL;
        if (gf[f - 1].key == NULL || gf[f - 1].name == NULL || gf[f - 1].name_len == 0)
            luaL_error(L, "bad argument #2 to 'encode' (%s: fields[%d] must be {key, Name})", gname, f);
        lua_rawseti(L, anchor, 2 * f);     /* the name */
        lua_rawseti(L, anchor, 2 * f - 1); /* the key */
        lua_pop(L, 1);
    }

    w.name = gname;
    for (r = 1; r <= nrec; r++) {
        lua_rawgeti(L, records, r);
        w.index = r;
        w.field = NULL;
        if (!lua_istable(L, -1))
            bad_value(L, &w, "record must be a table");
        for (f = 0; f < nfields; f++) {
            lua_getfield(L, -1, gf[f].key);
            if (!lua_isnil(L, -1)) {
                w.field = gf[f].key;
                put_name(L, b, gf[f].name, gf[f].name_len, r);
                put_scalar(L, b, -1, &w);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 5); /* name, records, fields, gf, anchor */
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
