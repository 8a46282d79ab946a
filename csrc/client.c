/*
 * client.c - the libcurl transport: enom.core.client(opts) and its methods.
 *
 * One CURLM multi handle per client carries every transfer, blocking or
 * not, so connections, the DNS cache and the parsed CA store are shared
 * by all of them; a share handle adds TLS session resumption for the
 * connections that do have to be opened anew.
 *
 * Every C resource (handles, transfers, buffers, option copies) hangs off
 * the userdata, so a Lua error at any point leaves nothing unreachable:
 * __gc frees it all. No Lua call is made from a libcurl callback.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "enom.h"

#define CLIENT_MT "enom.client"

/* An idle transfer keeps at most this much response buffer for reuse. */
#define KEEP_BUF_BYTES (64 * 1024)

#define MAX_CONNECTIONS_LIMIT 1024
#define MAX_SECONDS 1e6

#define HTTP_NOT_ALLOWED "plain http is not allowed (pass allow_http = true for a loopback sandbox)"

/* ---- libcurl version differences ------------------------------------- */

/* CURLOPT_PROTOCOLS_STR came with 7.85. */
static CURLcode set_protocols(CURL *easy, int allow_http)
{
#if LIBCURL_VERSION_NUM >= 0x075500
    const char *p = allow_http ? "http,https" : "https";
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, p);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, p);
    return rc;
#else
    long p = CURLPROTO_HTTPS | (allow_http ? CURLPROTO_HTTP : 0);
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS, p);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, p);
    return rc;
#endif
}

/* Trust cainfo alone when given, else the built-in CA file. libcurl
 * caches the parsed store in the multi handle only when it comes from a
 * file and no CA directory is set, and Debian's build sets both by
 * default: the directory is dropped whenever a file is in effect (the
 * file holds the same certificates). */
static CURLcode set_ca(CURL *easy, const char *cainfo)
{
    CURLcode rc = CURLE_OK;
    int drop_capath = cainfo != NULL;
    if (cainfo)
        rc = curl_easy_setopt(easy, CURLOPT_CAINFO, cainfo);
#if LIBCURL_VERSION_NUM >= 0x075400 /* CURLINFO_CAINFO: 7.84 */
    if (!cainfo) {
        char *builtin = NULL;
        curl_easy_getinfo(easy, CURLINFO_CAINFO, &builtin);
        drop_capath = builtin != NULL && builtin[0] != '\0';
    }
#endif
    if (rc == CURLE_OK && drop_capath)
        rc = curl_easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* The parsed CA store lives in the multi handle: keep it a day. */
    if (rc == CURLE_OK)
        curl_easy_setopt(easy, CURLOPT_CA_CACHE_TIMEOUT, 86400L);
#endif
    return rc;
}

/* ---- types ------------------------------------------------------------ */

typedef struct xfer {
    struct xfer *prev, *next; /* in exactly one list of the client */
    CURL *easy;
    long long id;
    CURLcode result;
    int finished;
    int too_large; /* the write callback hit max_response */
    int nomem;     /* the write callback could not grow the buffer */
    int is_http;   /* the URL asked for plain http */
    char *query;   /* the URL's query, to keep it out of messages */
    int sends;     /* times the request went out: libcurl may resend it */
    enom_buf body;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

typedef struct xlist {
    xfer *head, *tail;
    int n;
} xlist;

typedef struct enom_client {
    CURLM *multi;
    CURLSH *share;
    struct curl_slist *post_headers;
    xlist active; /* added to the multi handle */
    xlist done;   /* finished, outcome not yet handed to Lua */
    xlist idle;   /* reset easy handles kept for reuse */
    long long last_id;
    int closed;
    /* options */
    int allow_http;
    char *cainfo;
    char *user_agent;
    long timeout_ms;
    long connect_timeout_ms;
    long long max_response;
    long max_connections;
} enom_client;

/* ---- lists and transfers ---------------------------------------------- */

static void xlist_push(xlist *l, xfer *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->n++;
}

static void xlist_remove(xlist *l, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

static void xfer_destroy(xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    enom_buf_free(&x->body);
    free(x->query);
    free(x);
}

static void xlist_destroy(xlist *l)
{
    xfer *x = l->head;
    while (x) {
        xfer *next = x->next;
        xfer_destroy(x);
        x = next;
    }
    l->head = l->tail = NULL;
    l->n = 0;
}

/* Return a finished or never-started transfer to the idle list, or free
 * it when the list is full. It must already be out of every list. */
static void xfer_recycle(enom_client *c, xfer *x)
{
    free(x->query);
    x->query = NULL;
    if (c->closed || c->idle.n >= c->max_connections) {
        xfer_destroy(x);
        return;
    }
    curl_easy_reset(x->easy);
    if (x->body.cap > KEEP_BUF_BYTES)
        enom_buf_free(&x->body);
    else
        enom_buf_reset(&x->body);
    xlist_push(&c->idle, x);
}

/* Counts the request headers libcurl sends: more than one when it
 * resent the request itself after a reused connection died. Nothing of
 * the data is kept (the headers of a GET hold the password). */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
    xfer *x = ud;
    (void)e;
    (void)data;
    (void)size;
    if (type == CURLINFO_HEADER_OUT)
        x->sends++;
    return 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    int rc = enom_buf_append(&x->body, p, len);
    if (rc == ENOM_BUF_OK)
        return len;
    if (rc == ENOM_BUF_LIMIT)
        x->too_large = 1;
    else
        x->nomem = 1;
    return len == 0 ? 1 : 0; /* any count but len aborts the transfer */
}

/* The client's options, again after every curl_easy_reset. */
static CURLcode xfer_configure(enom_client *c, xfer *x, const char *url,
                               const char *body, size_t body_len)
{
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) \
    do { \
        if (rc == CURLE_OK) \
            rc = curl_easy_setopt(e, opt, val); \
    } while (0)
    x->errbuf[0] = '\0';
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = set_protocols(e, c->allow_http);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (rc == CURLE_OK)
        rc = set_ca(e, c->cainfo);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_USERAGENT, c->user_agent);
    /* Refuses a declared Content-Length over the cap before any body
     * arrives; the write callback enforces it for the rest. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)x);
    /* With a debug function, VERBOSE output goes to it, never to stderr. */
    SET(CURLOPT_DEBUGFUNCTION, on_debug);
    SET(CURLOPT_DEBUGDATA, (void *)x);
    SET(CURLOPT_VERBOSE, 1L);
    if (body) {
        /* Size first: COPYPOSTFIELDS copies that many bytes, NULs and all,
         * so the Lua string may be collected at once. */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SET(CURLOPT_COPYPOSTFIELDS, body);
        SET(CURLOPT_HTTPHEADER, c->post_headers);
    }
#undef SET
    return rc;
}

/* ---- the userdata ----------------------------------------------------- */

static void client_free(enom_client *c)
{
    xfer *x;
    for (x = c->active.head; x; x = x->next)
        if (c->multi && x->easy)
            curl_multi_remove_handle(c->multi, x->easy);
    xlist_destroy(&c->active);
    xlist_destroy(&c->done);
    xlist_destroy(&c->idle);
    /* Easy handles first, then the multi (closing its connections), then
     * the share, which is in use while any easy handle points at it. */
    if (c->multi) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
    }
    if (c->share) {
        curl_share_cleanup(c->share);
        c->share = NULL;
    }
    if (c->post_headers) {
        curl_slist_free_all(c->post_headers);
        c->post_headers = NULL;
    }
    free(c->cainfo);
    c->cainfo = NULL;
    free(c->user_agent);
    c->user_agent = NULL;
    c->closed = 1;
}

static enom_client *check_open(lua_State *L)
{
    enom_client *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (c->closed)
        luaL_error(L, "client is closed");
    return c;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- options ---------------------------------------------------------- */

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
        if (!(s > 0 && s <= MAX_SECONDS))
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
    const char *cainfo, *user_agent;

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
    cainfo = opt_string(L, 1, "cainfo", NULL);                  /* at 2 */
    user_agent = opt_string(L, 1, "user_agent", "lua-enom/0.1"); /* at 3 */

    /* From here on, everything allocated is reachable from the userdata. */
    c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CLIENT_MT);
    c->allow_http = allow_http;
    c->timeout_ms = timeout_ms;
    c->connect_timeout_ms = connect_timeout_ms;
    c->max_response = max_response;
    c->max_connections = max_connections;

    if (cainfo && !(c->cainfo = dup_string(cainfo)))
        goto nomem;
    if (!(c->user_agent = dup_string(user_agent)))
        goto nomem;
    if (!(c->post_headers = curl_slist_append(NULL, "Expect:")))
        goto nomem;
    if (!(c->share = curl_share_init()))
        goto nomem;
    if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
        return luaL_error(L, "enom.client: cannot share TLS sessions");
    if (!(c->multi = curl_multi_init()))
        goto nomem;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, max_connections);
    return 1;
nomem:
    return luaL_error(L, "enom.client: out of memory");
}

/* ---- driving the multi handle ----------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Moves every finished transfer from active to done, in completion order. */
static void collect(enom_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        char *priv = NULL;
        xfer *x;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        x = (xfer *)priv;
        x->result = m->data.result;
        x->finished = 1;
        curl_multi_remove_handle(c->multi, x->easy);
        xlist_remove(&c->active, x);
        xlist_push(&c->done, x);
    }
}

static void perform(lua_State *L, enom_client *c)
{
    int running;
    CURLMcode mc = curl_multi_perform(c->multi, &running);
    if (mc != CURLM_OK)
        luaL_error(L, "enom.client: curl_multi_perform: %s", curl_multi_strerror(mc));
    collect(c);
}

static void wait_io(lua_State *L, enom_client *c, int ms)
{
    CURLMcode mc = curl_multi_poll(c->multi, NULL, 0, ms, NULL);
    if (mc != CURLM_OK)
        luaL_error(L, "enom.client: curl_multi_poll: %s", curl_multi_strerror(mc));
}

/* Validates a request table at idx and starts its transfer. */
static xfer *start(lua_State *L, enom_client *c, int idx)
{
    static const char *const names[] = { "url", "body", "fresh", NULL };
    const char *url, *body = NULL, *q;
    long fresh;
    size_t body_len = 0;
    xfer *x;
    CURLcode rc;
    CURLMcode mc;

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
    fresh = lua_toboolean(L, -1) ? 1L : 0L;
    lua_pop(L, 1);

    /* No Lua error may happen between taking x and linking it. */
    x = c->idle.head;
    if (x) {
        xlist_remove(&c->idle, x);
    } else {
        x = calloc(1, sizeof *x);
        if (!x)
            luaL_error(L, "enom.client: out of memory");
        enom_buf_init(&x->body, 0);
        x->easy = curl_easy_init();
        if (!x->easy) {
            free(x);
            luaL_error(L, "enom.client: out of memory");
        }
    }
    x->body.limit = (size_t)c->max_response;
    x->finished = 0;
    x->too_large = 0;
    x->nomem = 0;
    x->sends = 0;
    x->result = CURLE_OK;
    x->is_http = strncasecmp(url, "http:", 5) == 0;
    q = strchr(url, '?');
    if (q && q[1]) {
        size_t n = strcspn(q + 1, "#");
        x->query = malloc(n + 1);
        if (x->query) {
            memcpy(x->query, q + 1, n);
            x->query[n] = '\0';
        }
    }
    rc = xfer_configure(c, x, url, body, body_len);
    /* A request that must not run twice gets a connection of its own:
     * libcurl silently sends a request again when a reused connection
     * dies before any answer, and eNom has no idempotency key. */
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, fresh);
    if (rc != CURLE_OK || (q && q[1] && !x->query)) {
        xfer_recycle(c, x);
        luaL_error(L, "enom.client: cannot set up the transfer: %s",
                   curl_easy_strerror(rc != CURLE_OK ? rc : CURLE_OUT_OF_MEMORY));
    }
    mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        xfer_recycle(c, x);
        luaL_error(L, "enom.client: curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    x->id = ++c->last_id;
    xlist_push(&c->active, x);
    lua_pop(L, 2);
    return x;
}

/* ---- outcomes --------------------------------------------------------- */

/* Failures of TLS set-up or of the handshake, before any request byte. */
static int tls_setup_failure(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return 1;
    default:
        return 0;
    }
}

/* Sure that the server never saw the request: it failed before a
 * connection existed, or timed out before a request byte was written. */
static int never_left(CURLcode rc, curl_off_t request_size)
{
    if (request_size > 0)
        return 0;
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
        return 1;
    default:
        return tls_setup_failure(rc);
    }
}

static const char *error_kind(CURLcode rc)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return "timeout";
    if (rc == CURLE_SSL_SHUTDOWN_FAILED || tls_setup_failure(rc))
        return "tls";
    return "transport";
}

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
    lua_pushstring(L, reason ? "transport" : error_kind(rc));
    lua_setfield(L, -2, "kind");
    enom_pushinteger(L, rc);
    lua_setfield(L, -2, "code");
    lua_pushboolean(L, reason != NULL ? 1 : !never_left(rc, request_size));
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

static void release(enom_client *c, xfer *x)
{
    xlist_remove(&c->done, x);
    xfer_recycle(c, x);
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
        release(c, x);
        return 1;
    }
    release(c, x);
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
        release(c, x);
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
    client_free(c);
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
    luaL_newmetatable(L, CLIENT_MT);
    lua_newtable(L);
    luaL_setfuncs(L, client_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, CLIENT_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
