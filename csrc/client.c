/*
 * client.c - enom.core.client(opts) and its methods: the Lua bindings of
 * the libcurl transport in transfer.c.
 *
 * Every C resource (handles, transfers, buffers, option copies) hangs off
 * the userdata, so a Lua error at any point leaves nothing unreachable:
 * __gc frees it all. No Lua call is made from a libcurl callback.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "transfer.h"

/* The transport handle: distinct from the Lua-level enom.client. */
#define CLIENT_MT "enom.core.client"

#define MAX_CONNECTIONS_LIMIT 1024
/* Exported as core.HTTP_NOT_ALLOWED: every transport says the same. */
#define HTTP_NOT_ALLOWED "plain http is not allowed (pass allow_http = true for a loopback sandbox)"

/* Room for the messages of transfer.c, libcurl's included. */
#define ERR_BYTES 256

/* ---- the userdata ----------------------------------------------------- */

static enom_client *check_open(lua_State *L)
{
    enom_client *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (c->closed)
        luaL_error(L, "client is closed");
    return c;
}

/* ---- options ---------------------------------------------------------- */

/* A transport's options, exported as core.client_options: the Lua side
 * hands exactly these to any transport. */
static const char *const OPTION_NAMES[] = {
    "allow_http", "cainfo", "timeout", "connect_timeout", "max_response",
    "user_agent", "max_connections", NULL
};

static void check_option_names(lua_State *L, int idx, const char *const *names, const char *what)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *k;
        int i;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, idx, lua_pushfstring(L, "%s names must be strings", what));
        k = lua_tostring(L, -2);
        for (i = 0; names[i]; i++)
            if (strcmp(k, names[i]) == 0)
                break;
        if (!names[i])
            luaL_argerror(L, idx, lua_pushfstring(L, "unknown %s '%s'", what, k));
        lua_pop(L, 1);
    }
}

/* Reads opts[name] as a number of seconds > 0; returns milliseconds. */
static long opt_seconds(lua_State *L, int idx, const char *name, double dflt)
{
    double s = dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_argerror(L, idx, lua_pushfstring(L, "option '%s' must be a number of seconds", name));
        s = lua_tonumber(L, -1);
        if (!(s > 0 && s <= ENOM_MAX_SECONDS))
            luaL_argerror(L, idx, lua_pushfstring(L, "option '%s' must be > 0 and <= 1e6 seconds", name));
    }
    lua_pop(L, 1);
    return (long)ceil(s * 1000.0);
}

static long long opt_count(lua_State *L, int idx, const char *name, long long dflt, long long max)
{
    long long v = dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || !enom_tointeger(L, -1, &v) || v < 1 || v > max) {
            char msg[128];
            snprintf(msg, sizeof msg, "option '%s' must be an integer from 1 to %lld", name, max);
            luaL_argerror(L, idx, msg);
        }
    }
    lua_pop(L, 1);
    return v;
}

/* Leaves the string (or nil) on the stack, so the pointer stays valid. */
static const char *opt_string(lua_State *L, int idx, const char *name, const char *dflt)
{
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1))
        return dflt;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, idx, lua_pushfstring(L, "option '%s' must be a string", name));
    return lua_tostring(L, -1);
}

/* core.client(opts) */
int enom_l_client(lua_State *L)
{
    enom_client *c;
    int allow_http = 0;
    long timeout_ms, connect_timeout_ms, max_connections;
    long long max_response;
    const char *cainfo, *user_agent, *err;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_option_names(L, 1, OPTION_NAMES, "option");

    lua_getfield(L, 1, "allow_http");
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_argerror(L, 1, "option 'allow_http' must be a boolean");
        allow_http = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    timeout_ms = opt_seconds(L, 1, "timeout", 60);
    connect_timeout_ms = opt_seconds(L, 1, "connect_timeout", 10);
    max_response = opt_count(L, 1, "max_response", 8388608, (long long)ENOM_EXACT_DOUBLE);
    max_connections = (long)opt_count(L, 1, "max_connections", 8, MAX_CONNECTIONS_LIMIT);
    cainfo = opt_string(L, 1, "cainfo", NULL);                           /* at 2 */
    user_agent = opt_string(L, 1, "user_agent", "lua-enom/" ENOM_VERSION); /* at 3 */
    /* A CR or LF would end the header and start one of the caller's. */
    if (!lua_isnil(L, 3) && strcspn(user_agent, "\r\n") != lua_rawlen(L, 3))
        luaL_argerror(L, 1, "option 'user_agent' must not contain CR, LF or NUL");

    /* From here on, everything allocated is reachable from the userdata. */
    c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CLIENT_MT);
    c->allow_http = allow_http;
    c->timeout_ms = timeout_ms;
    c->connect_timeout_ms = connect_timeout_ms;
    c->max_response = max_response;
    c->max_connections = max_connections;

    err = enom_client_init(c, cainfo, user_agent);
    if (err)
        return luaL_error(L, "enom.client: %s", err);
    return 1;
}

/* ---- driving the multi handle ----------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void perform(lua_State *L, enom_client *c)
{
    CURLMcode mc = enom_client_perform(c);
    if (mc != CURLM_OK)
        luaL_error(L, "enom.client: curl_multi_perform: %s", curl_multi_strerror(mc));
}

static void wait_io(lua_State *L, enom_client *c, int ms)
{
    CURLMcode mc = enom_client_wait(c, ms);
    if (mc != CURLM_OK)
        luaL_error(L, "enom.client: curl_multi_poll: %s", curl_multi_strerror(mc));
}

/* Validates a request table at idx and starts its transfer. */
static xfer *start(lua_State *L, enom_client *c, int idx)
{
    static const char *const names[] = { "url", "body", "fresh", "once", "timeout", "connect_timeout", NULL };
    const char *url, *body = NULL;
    xfer_opts o;
    size_t body_len = 0;
    xfer *x;
    char err[ERR_BYTES];

    luaL_checktype(L, idx, LUA_TTABLE);
    check_option_names(L, idx, names, "request field");
    lua_getfield(L, idx, "url");
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, idx, "request field 'url' must be a string");
    url = lua_tostring(L, -1);
    lua_getfield(L, idx, "body");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, idx, "request field 'body' must be a string or nil");
        body = lua_tolstring(L, -1, &body_len);
    }
    lua_getfield(L, idx, "fresh");
    o.fresh = lua_toboolean(L, -1) ? 1L : 0L;
    lua_getfield(L, idx, "once");
    o.once = lua_toboolean(L, -1);
    lua_pop(L, 2);
    /* A request's own time limits, over the client's. */
    o.timeout_ms = opt_seconds(L, idx, "timeout", 0);
    o.connect_timeout_ms = opt_seconds(L, idx, "connect_timeout", 0);

    /* Raise only after enom_xfer_start has returned: inside, it takes a
     * transfer and links it, with no Lua error possible between. url and
     * body stay on the stack until then. */
    x = enom_xfer_start(c, url, body, body_len, &o, err, sizeof err);
    if (!x)
        luaL_error(L, "enom.client: %s", err);
    lua_pop(L, 2);
    return x;
}

/* ---- outcomes --------------------------------------------------------- */

/* Pushes msg with every occurrence of the URL's query cut out: the
 * password travels there on GET, and libcurl's messages are not ours. */
static void push_redacted(lua_State *L, const char *msg, const char *query)
{
    size_t qn = query ? strlen(query) : 0;
    const char *hit;
    luaL_Buffer b;
    if (qn == 0 || !(hit = strstr(msg, query))) {
        lua_pushstring(L, msg);
        return;
    }
    luaL_buffinit(L, &b);
    do {
        luaL_addlstring(&b, msg, (size_t)(hit - msg));
        luaL_addstring(&b, "[query removed]");
        msg = hit + qn;
    } while ((hit = strstr(msg, query)) != NULL);
    luaL_addstring(&b, msg);
    luaL_pushresult(&b);
}

static void push_error(lua_State *L, enom_client *c, xfer *x)
{
    CURLcode rc = x->result;
    curl_off_t request_size = 0;
    long rs = 0;
    const char *reason = NULL;

    if (curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &rs) == CURLE_OK)
        request_size = rs;
    lua_createtable(L, 0, 6);
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        char msg[96];
        snprintf(msg, sizeof msg, "response larger than max_response (%lld bytes)", c->max_response);
        reason = "too_large";
        lua_pushstring(L, msg);
    } else if (x->nomem) {
        reason = "out_of_memory";
        lua_pushliteral(L, "out of memory while receiving the response");
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL && x->is_http && !c->allow_http) {
        lua_pushliteral(L, HTTP_NOT_ALLOWED);
    } else {
        const char *s = curl_easy_strerror(rc);
        if (x->errbuf[0]) {
            size_t n = strlen(x->errbuf);
            while (n > 0 && (x->errbuf[n - 1] == '\n' || x->errbuf[n - 1] == '\r'))
                x->errbuf[--n] = '\0';
            lua_pushfstring(L, "%s: %s", s, x->errbuf);
            push_redacted(L, lua_tostring(L, -1), x->query);
            lua_remove(L, -2);
        } else {
            lua_pushstring(L, s);
        }
    }
    lua_setfield(L, -2, "message");
    lua_pushstring(L, reason ? "transport" : enom_error_kind(rc));
    lua_setfield(L, -2, "kind");
    enom_pushinteger(L, rc);
    lua_setfield(L, -2, "code");
    lua_pushboolean(L, reason != NULL ? 1 : !enom_never_left(rc, request_size));
    lua_setfield(L, -2, "maybe_delivered");
    enom_pushinteger(L, x->sends);
    lua_setfield(L, -2, "sends");
    if (reason) {
        lua_pushstring(L, reason);
        lua_setfield(L, -2, "reason");
    }
}

static void push_result(lua_State *L, xfer *x)
{
    long status = 0, connects = 0;
    double total = 0, connect = 0;
    char *ctype = NULL;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME, &connect);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype);
    lua_createtable(L, 0, 6);
    enom_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, total);
    lua_setfield(L, -2, "total_time");
    lua_pushnumber(L, connect);
    lua_setfield(L, -2, "connect_time");
    lua_pushboolean(L, connects == 0);
    lua_setfield(L, -2, "reused");
    enom_pushinteger(L, x->sends);
    lua_setfield(L, -2, "sends");
    if (ctype) {
        lua_pushstring(L, ctype);
        lua_setfield(L, -2, "content_type");
    }
}

/* Pushes the outcome table of a finished transfer; returns 1 for a
 * response, 0 for an error. x stays in the done list meanwhile, so a Lua
 * error here leaves it reachable. */
static int push_outcome(lua_State *L, enom_client *c, xfer *x)
{
    if (x->result == CURLE_OK && !x->too_large && !x->nomem) {
        push_result(L, x);
        return 1;
    }
    push_error(L, c, x);
    return 0;
}

/* ---- methods ---------------------------------------------------------- */

/* c:request{ url =, body = } -> res | nil, err */
static int l_request(lua_State *L)
{
    enom_client *c = check_open(L);
    xfer *x = start(L, c, 2);
    /* Others finishing meanwhile wait in the done list for poll. */
    for (;;) {
        perform(L, c);
        if (x->finished)
            break;
        wait_io(L, c, 1000);
    }
    if (push_outcome(L, c, x)) {
        enom_xfer_release(c, x);
        return 1;
    }
    enom_xfer_release(c, x);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* c:submit{ url =, body = } -> id */
static int l_submit(lua_State *L)
{
    enom_client *c = check_open(L);
    xfer *x = start(L, c, 2);
    /* Get it going now: connecting starts while Lua does other work. */
    perform(L, c);
    enom_pushinteger(L, x->id);
    return 1;
}

/* c:poll([timeout]) -> { {id =, res =} | {id =, err =}, ... }
 * With no timeout it waits until something completes; every transfer has
 * its own time-out, so that wait ends. */
static int l_poll(lua_State *L)
{
    enom_client *c = check_open(L);
    int forever = lua_isnoneornil(L, 2);
    double timeout = forever ? 0 : luaL_checknumber(L, 2);
    double deadline;
    int i = 0;

    if (!forever && !(timeout >= 0))
        luaL_argerror(L, 2, "timeout must be a number of seconds >= 0");
    deadline = now_seconds() + timeout;
    for (;;) {
        double left;
        perform(L, c);
        if (c->done.n > 0 || c->active.n == 0)
            break;
        left = deadline - now_seconds();
        if (!forever && left <= 0)
            break;
        wait_io(L, c, forever || left > 1.0 ? 1000 : (int)ceil(left * 1000.0));
    }
    lua_createtable(L, c->done.n, 0);
    while (c->done.head) {
        xfer *x = c->done.head;
        int ok;
        lua_createtable(L, 0, 2);
        enom_pushinteger(L, x->id);
        lua_setfield(L, -2, "id");
        ok = push_outcome(L, c, x);
        lua_setfield(L, -2, ok ? "res" : "err");
        lua_rawseti(L, -2, ++i);
        enom_xfer_release(c, x);
    }
    return 1;
}

/* c:pending() -> transfers submitted whose outcome poll has not returned */
static int l_pending(lua_State *L)
{
    enom_client *c = check_open(L);
    lua_pushinteger(L, c->active.n + c->done.n);
    return 1;
}

/* c:close(): aborts what is in flight and frees everything. Safe twice. */
static int l_close(lua_State *L)
{
    enom_client *c = luaL_checkudata(L, 1, CLIENT_MT);
    enom_client_free(c);
    return 0;
}

static int l_tostring(lua_State *L)
{
    enom_client *c = luaL_checkudata(L, 1, CLIENT_MT);
    lua_pushfstring(L, "%s (%p)", CLIENT_MT, (void *)c);
    return 1;
}

static const luaL_Reg client_methods[] = {
    { "request", l_request },
    { "submit", l_submit },
    { "poll", l_poll },
    { "pending", l_pending },
    { "close", l_close },
    { NULL, NULL }
};

void enom_client_register(lua_State *L)
{
    int i;
    enom_udata_type(L, CLIENT_MT, client_methods, l_close, l_tostring);
    lua_newtable(L);
    for (i = 0; OPTION_NAMES[i]; i++) {
        lua_pushstring(L, OPTION_NAMES[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "client_options");
    lua_pushliteral(L, HTTP_NOT_ALLOWED);
    lua_setfield(L, -2, "HTTP_NOT_ALLOWED");
}
