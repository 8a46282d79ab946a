/*
 * transfer.h - shared by transfer.c (libcurl) and client.c (its Lua
 * bindings) only.
 *
 * Nothing declared here raises a Lua error: failures come back as return
 * values, and the bindings raise once the call has returned.
 */
#ifndef ENOM_TRANSFER_H
#define ENOM_TRANSFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "enom.h"

typedef struct xfer {
    struct xfer *prev, *next; /* in exactly one list of the client */
    CURL *easy;
    CURLU *url;    /* the parsed URL the transfer connects to */
    long long id;
    CURLcode result;
    int finished;
    int too_large; /* the write callback hit max_response */
    int nomem;     /* the write callback could not grow the buffer */
    int is_http;   /* the URL asked for plain http */
    char *query;   /* the URL's query, to keep it out of messages */
    int sends;     /* times the request went out: libcurl may resend it */
    int once;      /* state-changing: a second send is aborted instead */
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

/* url.c: parses an absolute URL without credentials or fragment; NULL
 * and a static message in *err otherwise. */
CURLU *enom_url_parse(const char *url, const char **err);

/* Per-transfer settings; 0 keeps the client's. */
typedef struct xfer_opts {
    long fresh;     /* on a new connection */
    int once;       /* never sent a second time: a resend libcurl would make
                     * after a reused connection died fails the transfer */
    long timeout_ms;
    long connect_timeout_ms;
} xfer_opts;

/* Copies cainfo (may be NULL) and user_agent, makes the handles. c is
 * zeroed with its number options set. Returns NULL, or a message; what
 * was made is in c either way, for enom_client_free. */
const char *enom_client_init(enom_client *c, const char *cainfo, const char *user_agent);

/* Aborts what is in flight and frees everything. Safe twice. */
void enom_client_free(enom_client *c);

/* Takes a transfer, sets it up for url (a POST of body when body is not
 * NULL) and links it into c->active. fresh: on a new connection; once:
 * never sent a second time (a resend libcurl would make after a reused
 * connection died fails the transfer instead). Returns NULL with a
 * message in err when it cannot; the transfer is then back in the idle
 * list or freed. */
xfer *enom_xfer_start(enom_client *c, const char *url, const char *body, size_t body_len,
                      const xfer_opts *o, char *err, size_t errlen);

/* Runs the multi handle, then moves what finished from active to done. */
CURLMcode enom_client_perform(enom_client *c);

/* Waits up to ms for activity on any transfer. */
CURLMcode enom_client_wait(enom_client *c, int ms);

/* Takes x, whose outcome was handed over, out of the done list. */
void enom_xfer_release(enom_client *c, xfer *x);

/* Classification of a failed transfer. */
int enom_never_left(CURLcode rc, curl_off_t request_size);
const char *enom_error_kind(CURLcode rc);

#endif /* ENOM_TRANSFER_H */
