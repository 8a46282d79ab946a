/*
 * parse_result.c - builds the one normalised result table that the XML,
 * Text and HTML parsers fill (see parse_result.h). It calls no parser:
 * parse.c calls the parsers, the parsers call these helpers.
 *
 * Values are pushed exactly as the parsers hand them over; the parsers trim
 * surrounding whitespace (see parse_xml.c and parse_kv.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse_result.h"

/* Integers beyond this magnitude stay strings: LuaJIT holds numbers as
 * doubles and would round them. */
#define ENOM_INT_MAX 9007199254740992LL

static int lower_ascii(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int enom_ieq(const char *s, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || lower_ascii((unsigned char)s[i]) != lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

static void lower_into(char *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (char)lower_ascii((unsigned char)s[i]);
}

void enom_push_lower(lua_State *L, const char *s, size_t n)
{
    if (n <= ENOM_KEY_BUF) {
        char b[ENOM_KEY_BUF];
        lower_into(b, s, n);
        lua_pushlstring(L, n > 0 ? b : "", n);
    } else {
        char *b = lua_newuserdata(L, n);
        lower_into(b, s, n);
        lua_pushlstring(L, b, n);
        lua_remove(L, -2);
    }
}

int enom_split_index(const char *key, size_t klen, size_t *baselen, long *n)
{
    size_t d = 0;
    long v = 0;
    size_t i;
    while (d < klen && key[klen - 1 - d] >= '0' && key[klen - 1 - d] <= '9')
        d++;
    /* Nine digits keep n within an int, which is what lua_rawseti takes
     * under LuaJIT; no eNom index comes near. */
    if (d == 0 || d > 9 || d == klen)
        return 0;
    for (i = klen - d; i < klen; i++)
        v = v * 10 + (key[i] - '0');
    *baselen = klen - d;
    *n = v;
    return 1;
}

/* The whole of s[0..n) as a decimal integer (strtoll rules), or 0. */
static int parse_integer(const char *s, size_t n, long long *out)
{
    char buf[32];
    char *end;
    long long v;
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || end == buf || buf[0] == ' ' || buf[0] == '\t')
        return 0;
    if (v > ENOM_INT_MAX || v < -ENOM_INT_MAX)
        return 0;
    *out = v;
    return 1;
}

void enom_result_open(lua_State *L, enom_result *r, int nfields)
{
    luaL_checkstack(L, 16, "enom.core.parse");
    memset(r, 0, sizeof *r);
    lua_createtable(L, 0, 8);
    r->t = lua_gettop(L);
    lua_createtable(L, 0, nfields > 0 ? nfields : 24);
    r->fields = lua_gettop(L);
    lua_newtable(L);
    r->indexed = lua_gettop(L);
    lua_newtable(L);
    r->records = lua_gettop(L);
    lua_newtable(L);
    r->errors = lua_gettop(L);
    lua_newtable(L);
    r->responses = lua_gettop(L);
    lua_newtable(L);
    r->bases = lua_gettop(L);
}

/* Remembers the value of a "...Count" field that may size a list. */
static void note_count(enom_result *r, const char *key, size_t klen, const char *val, size_t vlen)
{
    long long n;
    if (klen < 5 || !enom_ieq(key + klen - 5, 5, "count") || r->ncounts >= ENOM_MAX_COUNTS)
        return;
    if ((klen == 8 && enom_ieq(key, klen, "errcount"))
        || (klen == 13 && enom_ieq(key, klen, "responsecount")))
        return;
    if (parse_integer(val, vlen, &n) && n >= 1 && n <= 1000000000)
        r->counts[r->ncounts++] = (long)n;
}

void enom_result_put(lua_State *L, int t, const char *val, size_t vlen)
{
    lua_pushvalue(L, -1);
    lua_rawget(L, t); /* key old */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, val, vlen);
        lua_rawset(L, t);
        return;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        lua_createtable(L, 4, 0); /* key old list */
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, val, vlen);
        lua_rawseti(L, -2, 2);
        lua_rawset(L, t);
        return;
    }
    lua_pushlstring(L, val, vlen); /* key list val */
    lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
}

void enom_result_field(lua_State *L, enom_result *r, const char *key, size_t klen, const char *val,
                       size_t vlen)
{
    lua_pushlstring(L, key, klen);
    enom_result_put(L, r->fields, val, vlen);
    r->nfound++;
    note_count(r, key, klen, val, vlen);

    if (klen == 7 && enom_ieq(key, klen, "command")) {
        lua_pushlstring(L, val, vlen);
        lua_setfield(L, r->t, "command");
    } else if (klen == 8 && enom_ieq(key, klen, "errcount")) {
        long long n;
        if (parse_integer(val, vlen, &n))
            enom_pushinteger(L, n);
        else
            lua_pushnil(L);
        lua_setfield(L, r->t, "err_count");
    } else if (klen == 4 && enom_ieq(key, klen, "done")) {
        r->done = enom_ieq(val, vlen, "true");
    }
}

void enom_result_error(lua_State *L, enom_result *r, long idx, const char *val, size_t vlen)
{
    int fresh;
    if (idx < 0)
        idx = r->maxerr + 1;
    lua_rawgeti(L, r->errors, (int)idx);
    fresh = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (fresh) {
        if (r->nerr == 0 || idx < r->minerr)
            r->minerr = idx;
        if (r->nerr == 0 || idx > r->maxerr)
            r->maxerr = idx;
        r->nerr++;
    }
    lua_pushlstring(L, val, vlen);
    lua_rawseti(L, r->errors, (int)idx);
    r->nfound++;
}

void enom_result_response(lua_State *L, enom_result *r, long idx, int which, const char *val,
                          size_t vlen)
{
    long long n;
    if (idx < 0)
        idx = r->maxresp > 0 ? r->maxresp : 1;
    lua_rawgeti(L, r->responses, (int)idx);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, -1);
        lua_rawseti(L, r->responses, (int)idx);
        if (r->nresp == 0 || idx < r->minresp)
            r->minresp = idx;
        if (r->nresp == 0 || idx > r->maxresp)
            r->maxresp = idx;
        r->nresp++;
    }
    if (which == ENOM_RESPONSE_NUMBER && parse_integer(val, vlen, &n))
        enom_pushinteger(L, n);
    else
        lua_pushlstring(L, val, vlen);
    lua_setfield(L, -2, which == ENOM_RESPONSE_NUMBER ? "number" : "string");
    lua_pop(L, 1);
    r->nfound++;
}

void enom_result_kv(lua_State *L, enom_result *r, const char *key, size_t klen, const char *val,
                    size_t vlen)
{
    size_t bl;
    long n;
    if (!enom_split_index(key, klen, &bl, &n)) {
        enom_result_field(L, r, key, klen, val, vlen);
        return;
    }
    if (bl == 3 && enom_ieq(key, bl, "err")) {
        enom_result_error(L, r, n, val, vlen);
        return;
    }
    if (bl == 14 && enom_ieq(key, bl, "responsenumber")) {
        enom_result_response(L, r, n, ENOM_RESPONSE_NUMBER, val, vlen);
        return;
    }
    if (bl == 14 && enom_ieq(key, bl, "responsestring")) {
        enom_result_response(L, r, n, ENOM_RESPONSE_STRING, val, vlen);
        return;
    }
    enom_push_lower(L, key, bl);         /* base */
    lua_pushvalue(L, -1);
    lua_rawget(L, r->indexed);           /* base list? */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 4, 0);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, r->indexed);       /* base list */
        lua_pushvalue(L, -2);
        lua_pushlstring(L, key, bl);
        lua_rawset(L, r->bases);         /* as first spelt */
    }
    lua_pushlstring(L, val, vlen);
    lua_rawseti(L, -2, (int)n);
    lua_pop(L, 2);
    r->nfound++;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Pushes the values of the table at idx (integer keys only) as an array in
 * key order. Gap-free 1..n tables are pushed as they are. */
static void push_compacted(lua_State *L, int idx, long n, long min, long max)
{
    long *keys;
    long i = 0, k;
    if (n == 0 || (min >= 1 && max == n)) {
        lua_pushvalue(L, idx);
        return;
    }
    keys = lua_newuserdata(L, (size_t)n * sizeof *keys);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (i < n)
            keys[i++] = (long)lua_tonumber(L, -1);
    }
    qsort(keys, (size_t)i, sizeof *keys, cmp_long);
    lua_createtable(L, (int)i, 0);
    for (k = 0; k < i; k++) {
        lua_rawgeti(L, idx, (int)keys[k]);
        lua_rawseti(L, -2, (int)(k + 1));
    }
    lua_remove(L, -2); /* the key array */
}

static int is_count(const enom_result *r, long n)
{
    int i;
    for (i = 0; i < r->ncounts; i++) {
        if (r->counts[i] == n)
            return 1;
    }
    return 0;
}

/* Moves the keys of base lists that are not list columns (see parse_result.h)
 * back to fields under their own names. */
static void resolve_indexes(lua_State *L, enom_result *r)
{
    luaL_checkstack(L, 8, "enom.core.parse");
    lua_pushnil(L);
    while (lua_next(L, r->indexed) != 0) { /* base list */
        int list = lua_gettop(L);
        /* The border, not a count of the entries: a list with a gap keeps
         * its stray entries, as Lua's # would see it. Counting every entry
         * would cost a tenth of a 1,000-mailbox parse. */
        long max = (long)lua_rawlen(L, list);
        if (!(max >= 3 || (max >= 1 && is_count(r, max)))) {
            const char *orig;
            lua_pushvalue(L, list - 1);
            lua_rawget(L, r->bases);
            orig = lua_tostring(L, -1); /* anchored on the stack */
            lua_pushnil(L);
            while (lua_next(L, list) != 0) {
                lua_pushfstring(L, "%s%d", orig, (int)lua_tointeger(L, -2));
                lua_insert(L, -2);
                lua_rawset(L, r->fields);
            }
            lua_pop(L, 1); /* orig */
            lua_pushvalue(L, list - 1);
            lua_pushnil(L);
            lua_rawset(L, r->indexed); /* clearing a visited key is allowed */
        }
        lua_pop(L, 1); /* list */
    }
}

void enom_result_close(lua_State *L, enom_result *r)
{
    resolve_indexes(L, r);
    lua_pushboolean(L, r->done);
    lua_setfield(L, r->t, "done");
    push_compacted(L, r->errors, r->nerr, r->minerr, r->maxerr);
    lua_setfield(L, r->t, "errors");
    push_compacted(L, r->responses, r->nresp, r->minresp, r->maxresp);
    lua_setfield(L, r->t, "responses");
    lua_pushvalue(L, r->fields);
    lua_setfield(L, r->t, "fields");
    lua_pushvalue(L, r->indexed);
    lua_setfield(L, r->t, "indexed");
    lua_pushvalue(L, r->records);
    lua_setfield(L, r->t, "records");
    lua_settop(L, r->t);
}

int enom_parse_fail(lua_State *L, const char *reason)
{
    lua_pushnil(L);
    lua_pushfstring(L, "parse error: %s", reason);
    return 2;
}
