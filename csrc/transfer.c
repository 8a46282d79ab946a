/*
 * transfer.c - the libcurl side of enom.client: transfers, the handles
 * that carry them, and how a failed one is classified.
 *
 * One CURLM multi handle per client carries every transfer, blocking or
 * not, so connections, the DNS cache and the parsed CA store are shared
 * by all of them; a share handle adds TLS session resumption for the
 * connections that do have to be opened anew.
 *
 * Nothing here calls Lua, so nothing can raise inside a libcurl callback
 * or between taking a transfer and linking it: failures are returned and
 * client.c raises after the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "transfer.h"

/* An idle transfer keeps at most this much response buffer for reuse. */
#define KEEP_BUF_BYTES (64 * 1024)

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
    if (x->url)
        curl_url_cleanup(x->url);
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
    if (x->url) {
        curl_url_cleanup(x->url);
        x->url = NULL;
    }
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

/* Called each time the request is about to go out on a connection: more
 * than once when libcurl resent it itself after a reused connection died
 * with no byte of an answer (Curl_retry_request: the retry goes back
 * through CONNECT and DO, and DO calls this first). eNom has no
 * idempotency key, so a request that must go out once is stopped here:
 * the transfer fails with CURLE_ABORTED_BY_CALLBACK, which counts as maybe
 * delivered, and the caller reads back instead of guessing. This keeps
 * kept-alive connections usable for purchases and SetUps; libcurl 8.16's
 * CURLOPT_FORBID_RETRY_ON_REUSE would say the same, but Debian 12 has
 * 7.88. (CURLOPT_PREREQFUNCTION, libcurl 7.80+.) */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    xfer *x = ud;
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    if (x->once && x->sends > 0)
        return CURL_PREREQFUNC_ABORT;
    x->sends++;
    return CURL_PREREQFUNC_OK;
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
static CURLcode xfer_configure(enom_client *c, xfer *x, const xfer_opts *o,
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
    /* The very parse the endpoint was checked with. */
    SET(CURLOPT_CURLU, x->url);
    if (x->is_http) /* nothing in clear through a proxy from the environment */
        SET(CURLOPT_NOPROXY, "*");
    if (rc == CURLE_OK)
        rc = set_protocols(e, c->allow_http);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (rc == CURLE_OK)
        rc = set_ca(e, c->cainfo);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : c->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : c->connect_timeout_ms);
    SET(CURLOPT_USERAGENT, c->user_agent);
    /* Refuses a declared Content-Length over the cap before any body
     * arrives; the write callback enforces it for the rest. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, (void *)x);
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

/* ---- the handles ------------------------------------------------------ */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *enom_client_init(enom_client *c, const char *cainfo, const char *user_agent)
{
    if (cainfo && !(c->cainfo = dup_string(cainfo)))
        return "out of memory";
    if (!(c->user_agent = dup_string(user_agent)))
        return "out of memory";
    if (!(c->post_headers = curl_slist_append(NULL, "Expect:")))
        return "out of memory";
    if (!(c->share = curl_share_init()))
        return "out of memory";
    if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
        return "cannot share TLS sessions";
    if (!(c->multi = curl_multi_init()))
        return "out of memory";
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c->max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->max_connections);
    return NULL;
}

void enom_client_free(enom_client *c)
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

/* ---- driving the multi handle ----------------------------------------- */

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

CURLMcode enom_client_perform(enom_client *c)
{
    int running;
    CURLMcode mc = curl_multi_perform(c->multi, &running);
    if (mc == CURLM_OK)
        collect(c);
    return mc;
}

CURLMcode enom_client_wait(enom_client *c, int ms)
{
    return curl_multi_poll(c->multi, NULL, 0, ms, NULL);
}

xfer *enom_xfer_start(enom_client *c, const char *url, const char *body, size_t body_len,
                      const xfer_opts *o, char *err, size_t errlen)
{
    const char *q, *uerr = NULL;
    CURLU *u;
    xfer *x;
    CURLcode rc;
    CURLMcode mc;

    u = enom_url_parse(url, &uerr);
    if (!u) {
        snprintf(err, errlen, "bad URL: %s", uerr);
        return NULL;
    }
    if (c->allow_http && strncasecmp(url, "http:", 5) == 0) {
        char *host = NULL;
        int loopback = curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && enom_host_is_loopback(host);
        curl_free(host);
        if (!loopback) {
            curl_url_cleanup(u);
            snprintf(err, errlen, "plain http is allowed only to a loopback address");
            return NULL;
        }
    }

    /* x is linked into a list of c, or recycled, before this returns. */
    x = c->idle.head;
    if (x) {
        xlist_remove(&c->idle, x);
    } else {
        x = calloc(1, sizeof *x);
        if (!x) {
            curl_url_cleanup(u);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        enom_buf_init(&x->body, 0);
        x->easy = curl_easy_init();
        if (!x->easy) {
            curl_url_cleanup(u);
            free(x);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    x->url = u;
    x->body.limit = (size_t)c->max_response;
    x->finished = 0;
    x->too_large = 0;
    x->nomem = 0;
    x->sends = 0;
    x->once = o->once;
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
    rc = xfer_configure(c, x, o, body, body_len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, o->fresh);
    if (rc != CURLE_OK || (q && q[1] && !x->query)) {
        xfer_recycle(c, x);
        snprintf(err, errlen, "cannot set up the transfer: %s",
                 curl_easy_strerror(rc != CURLE_OK ? rc : CURLE_OUT_OF_MEMORY));
        return NULL;
    }
    mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        xfer_recycle(c, x);
        snprintf(err, errlen, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        return NULL;
    }
    x->id = ++c->last_id;
    xlist_push(&c->active, x);
    return x;
}

void enom_xfer_release(enom_client *c, xfer *x)
{
    xlist_remove(&c->done, x);
    xfer_recycle(c, x);
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
int enom_never_left(CURLcode rc, curl_off_t request_size)
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

const char *enom_error_kind(CURLcode rc)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return "timeout";
    if (rc == CURLE_SSL_SHUTDOWN_FAILED || tls_setup_failure(rc))
        return "tls";
    return "transport";
}
