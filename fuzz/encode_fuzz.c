/*
 * encode_fuzz.c - libFuzzer harness for enom.core.encode and the tables
 * the Lua side hands it.
 *
 * The input drives the building of a parameter table (names of any bytes;
 * strings, integers, fractions, booleans, arrays) and of indexed groups
 * whose records may be proxies: their __index runs Lua code that collects
 * garbage and empties the group's field list while the encoder works
 * through it. Tables also get a __pairs that raises (the encoder must
 * never call it). Each run must either
 *   - raise a clear error ("bad argument ... (...)"), and only for an input
 *     that has a value no form can carry (NaN, infinity, a function, an
 *     array with a hole) or an array X next to a parameter X<k>; or
 *   - return bytes of the unreserved set, %XX, '+', '=' and '&' only, that
 *     decode back to exactly the parameters and records given, in order.
 * Anything else aborts; AddressSanitizer/UBSan catch the rest.
 * See fuzz/README.md for building and running it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "enom.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

/* Lua helpers, compiled once: a proxy record and a raising __pairs. */
static const char *HELPERS =
    "local proxy_mt = {}\n"
    "local function proxy(mode, fields, value)\n"
    "  return setmetatable({}, { __index = function(_, k)\n"
    "    if mode % 2 == 1 then collectgarbage() end\n"
    "    if mode >= 2 then for i = #fields, 1, -1 do fields[i] = nil end; collectgarbage() end\n"
    "    return value\n"
    "  end, __pairs = function() error('__pairs called') end })\n"
    "end\n"
    "local function guard(t)\n"
    "  return setmetatable(t, { __pairs = function() error('__pairs called') end })\n"
    "end\n"
    "return proxy, guard\n";

static int proxy_ref = LUA_NOREF, guard_ref = LUA_NOREF;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);
    if (luaL_loadstring(L, HELPERS) != 0 || lua_pcall(L, 0, 2, 0) != 0)
        abort();
    guard_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    proxy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---- reading the input ------------------------------------------------ */

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static unsigned take(src *s, unsigned mod)
{
    unsigned v;
    if (s->n == 0)
        return 0;
    v = *s->p++;
    s->n--;
    return mod ? v % mod : v;
}

/* ---- what is expected -------------------------------------------------- */

#define MAX_PAIRS 512
#define MAX_BYTES 64

typedef struct pair {
    char name[MAX_BYTES + 16];
    size_t name_len;
    char value[MAX_BYTES];
    size_t value_len;
} pair;

static pair want[MAX_PAIRS];
static size_t nwant;

static void expect(const char *name, size_t nlen, int index, const char *value, size_t vlen)
{
    pair *p;
    if (nwant >= MAX_PAIRS)
        abort();
    p = &want[nwant++];
    memcpy(p->name, name, nlen);
    p->name_len = nlen;
    if (index > 0)
        p->name_len += (size_t)snprintf(p->name + nlen, 16, "%d", index);
    memcpy(p->value, value, vlen);
    p->value_len = vlen;
}

/* A scalar from the input, pushed; its text in out. Returns 0 for a
 * value no form can carry (pushed too). */
static int push_scalar(src *s, char *out, size_t *len, int allow_bad)
{
    unsigned kind = take(s, allow_bad ? 8 : 5);
    switch (kind) {
    case 0: case 1: {
        size_t n = take(s, 17), i;
        for (i = 0; i < n; i++)
            out[i] = (char)take(s, 0);
        *len = n;
        lua_pushlstring(L, out, n);
        return 1;
    }
    case 2: {
        int32_t v = (int32_t)((take(s, 0) << 24) | (take(s, 0) << 16) | (take(s, 0) << 8) | take(s, 0));
        *len = (size_t)snprintf(out, MAX_BYTES, "%d", (int)v);
        lua_pushinteger(L, v);
        return 1;
    }
    case 3: {
        /* Never integral: a fraction is written with %.14g. */
        double d = (double)(int16_t)((take(s, 0) << 8) | take(s, 0)) * 0.5 + 0.25;
        *len = (size_t)snprintf(out, MAX_BYTES, "%.14g", d);
        lua_pushnumber(L, d);
        return 1;
    }
    case 4: {
        int b = (int)take(s, 2);
        out[0] = b ? '1' : '0';
        *len = 1;
        lua_pushboolean(L, b);
        return 1;
    }
    case 5:
        lua_pushnumber(L, NAN);
        return 0;
    case 6:
        lua_pushnumber(L, take(s, 2) ? HUGE_VAL : -HUGE_VAL);
        return 0;
    default:
        lua_pushcfunction(L, enom_l_encode);
        return 0;
    }
}

typedef struct param {
    char name[MAX_BYTES];
    size_t len;
    int array;   /* elements, or 0 for a scalar */
    int first;   /* index of its first pair in want[], -1 when bad */
} param;

static int cmp_param(const void *a, const void *b)
{
    const param *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* ---- checking the output ------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one name or value of s[0..n) into out; -1 on a bad byte. */
static long unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o >= cap)
            return -1;
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1;
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+') {
            out[o++] = ' ';
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            return -1;
        }
    }
    return (long)o;
}

static void check_output(const char *s, size_t n)
{
    size_t pos = 0, k = 0;
    if (n == 0) {
        if (nwant != 0)
            abort();
        return;
    }
    while (pos <= n) {
        const char *amp = memchr(s + pos, '&', n - pos);
        size_t end = amp ? (size_t)(amp - s) : n;
        const char *eq = memchr(s + pos, '=', end - pos);
        char name[MAX_BYTES + 16], value[MAX_BYTES];
        long nl, vl;
        if (!eq || k >= nwant)
            abort();
        nl = unescape(s + pos, (size_t)(eq - (s + pos)), name, sizeof name);
        vl = unescape(eq + 1, end - (size_t)(eq + 1 - s), value, sizeof value);
        if (nl < 0 || vl < 0)
            abort();
        if ((size_t)nl != want[k].name_len || memcmp(name, want[k].name, (size_t)nl) != 0)
            abort();
        if ((size_t)vl != want[k].value_len || memcmp(value, want[k].value, (size_t)vl) != 0)
            abort();
        k++;
        if (!amp)
            break;
        pos = end + 1;
    }
    if (k != nwant)
        abort();
}

/* ---- one run ------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long runs;
    src in = { data, size };
    param params[16];
    int nparams, i, bad = 0, collide = 0, ngroups, g, rc;
    char text[MAX_BYTES];
    size_t tlen;

    lua_settop(L, 0);
    nwant = 0;

    /* Parameters, built in their own table (index 1), guarded. */
    lua_newtable(L);
    nparams = (int)take(&in, 9);
    for (i = 0; i < nparams; i++) {
        param *p = &params[i];
        size_t j;
        p->len = 1 + take(&in, 6);
        for (j = 0; j < p->len; j++) {
            /* Mostly letters, so that X and X1 meet now and then. */
            unsigned c = take(&in, 0);
            p->name[j] = (char)(c < 200 ? "XYab1_"[c % 6] : c);
        }
        lua_pushlstring(L, p->name, p->len);
        lua_rawget(L, 1);
        if (!lua_isnil(L, -1)) { /* already there: skip it */
            lua_pop(L, 1);
            i--, nparams--;
            continue;
        }
        lua_pop(L, 1);
        p->array = take(&in, 3) == 0 ? (int)(1 + take(&in, 4)) : 0;
        p->first = 0;
        lua_pushlstring(L, p->name, p->len);
        if (p->array) {
            int k, hole = take(&in, 16) == 0 ? (int)take(&in, (unsigned)p->array) + 1 : 0;
            lua_createtable(L, p->array, 0);
            for (k = 1; k <= p->array; k++) {
                if (k == hole && k < p->array) {
                    bad = 1; /* an element left out, with one after it */
                    continue;
                }
                bad |= !push_scalar(&in, text, &tlen, 1);
                lua_rawseti(L, -2, k);
            }
            if (take(&in, 4) == 0) {
                lua_rawgeti(L, LUA_REGISTRYINDEX, guard_ref);
                lua_insert(L, -2);
                lua_call(L, 1, 1);
            }
        } else {
            bad |= !push_scalar(&in, text, &tlen, 1);
        }
        lua_rawset(L, 1);
    }
    if (take(&in, 2)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, guard_ref);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 0);
    }
    qsort(params, (size_t)nparams, sizeof(param), cmp_param);
    /* Expected pairs of the parameters, read back from the table itself. */
    for (i = 0; i < nparams && !bad; i++) {
        param *p = &params[i];
        int k, n = p->array ? p->array : 1;
        lua_pushlstring(L, p->name, p->len);
        lua_rawget(L, 1);
        for (k = 1; k <= n; k++) {
            const char *v;
            size_t vl;
            char num[MAX_BYTES];
            if (p->array) {
                lua_rawgeti(L, -1, k);
            } else {
                lua_pushvalue(L, -1);
            }
            if (lua_type(L, -1) == LUA_TBOOLEAN) {
                v = lua_toboolean(L, -1) ? "1" : "0";
                vl = 1;
            } else if (lua_type(L, -1) == LUA_TNUMBER) {
                long long iv;
                if (enom_tointeger(L, -1, &iv))
                    vl = (size_t)snprintf(num, sizeof num, "%lld", iv);
                else
                    vl = (size_t)snprintf(num, sizeof num, "%.14g", (double)lua_tonumber(L, -1));
                v = num;
            } else {
                v = lua_tolstring(L, -1, &vl);
            }
            expect(p->name, p->len, p->array ? k : 0, v, vl);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        /* X next to X<k> (k <= #X): the encoder must refuse. */
        for (k = 1; p->array && k <= p->array; k++) {
            lua_pushlstring(L, p->name, p->len);
            lua_pushinteger(L, k);
            lua_concat(L, 2);
            lua_rawget(L, 1);
            collide |= !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
    }

    /* Groups (index 2): records of plain tables or proxies. */
    ngroups = (int)take(&in, 3);
    lua_createtable(L, ngroups, 0);
    for (g = 1; g <= ngroups; g++) {
        char keys[3][8], names[3][MAX_BYTES];
        size_t name_len[3];
        int nfields = 1 + (int)take(&in, 3), nrec = (int)take(&in, 5), f, r, fields_idx;
        lua_createtable(L, 0, 3);
        lua_pushfstring(L, "g%d", g);
        lua_setfield(L, -2, "name");
        lua_createtable(L, nfields, 0);
        fields_idx = lua_gettop(L);
        for (f = 0; f < nfields; f++) {
            size_t j;
            /* Built at run time and longer than Lua interns: collectable. */
            snprintf(keys[f], sizeof keys[f], "k%d", f);
            name_len[f] = 1 + take(&in, 3);
            for (j = 0; j < name_len[f]; j++)
                names[f][j] = "NmPw"[take(&in, 4)];
            memset(names[f] + name_len[f], 'x', 48);
            name_len[f] += 48;
            lua_createtable(L, 2, 0);
            lua_pushstring(L, keys[f]);
            lua_pushliteral(L, "");
            lua_concat(L, 2);
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, names[f], name_len[f]);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, fields_idx, f + 1);
        }
        lua_createtable(L, nrec, 0);
        for (r = 1; r <= nrec; r++) {
            unsigned how = take(&in, 3);
            if (how == 0) {
                /* A plain record: some fields set, some absent. */
                lua_createtable(L, 0, nfields);
                for (f = 0; f < nfields; f++) {
                    if (take(&in, 3) == 0)
                        continue;
                    bad |= !push_scalar(&in, text, &tlen, 0);
                    if (!bad && nwant < MAX_PAIRS)
                        expect(names[f], name_len[f], r, text, tlen);
                    lua_setfield(L, -2, keys[f]);
                }
            } else {
                /* A proxy: every field comes from __index, which may
                 * collect garbage and empty the field list meanwhile. */
                unsigned mode = take(&in, 4);
                int has = take(&in, 2);
                char v[16];
                size_t vl = (size_t)snprintf(v, sizeof v, "p%d", r);
                lua_rawgeti(L, LUA_REGISTRYINDEX, proxy_ref);
                lua_pushinteger(L, (lua_Integer)mode);
                lua_pushvalue(L, fields_idx);
                if (has)
                    lua_pushlstring(L, v, vl);
                else
                    lua_pushnil(L);
                lua_call(L, 3, 1);
                for (f = 0; f < nfields && has; f++)
                    expect(names[f], name_len[f], r, v, vl);
            }
            lua_rawseti(L, -2, r);
        }
        lua_setfield(L, -3, "records");
        lua_setfield(L, -2, "fields");
        lua_rawseti(L, 2, g);
    }
    /* Names of group parameters may meet parameters' names: the encoder
     * writes them in order all the same, which is what is checked. */

    lua_pushcfunction(L, enom_l_encode);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    rc = lua_pcall(L, 2, 1, 0);
    if (rc != 0) {
        const char *msg = lua_tostring(L, -1);
        if (!msg || !strstr(msg, "bad argument"))
            abort(); /* an unclear error */
        if (!bad && !collide)
            abort(); /* refused a sound input */
    } else {
        size_t n;
        const char *out = lua_tolstring(L, -1, &n);
        if (bad || collide)
            abort(); /* accepted what it must refuse */
        check_output(out, n);
    }
    lua_settop(L, 0);
    if (++runs % 256 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
