/*
 * url.c - endpoint URLs, read by libcurl's own URL parser.
 *
 *   core.parse_url(url) -> { url, scheme, host, port, path, query, loopback }
 *                        | nil, message
 *
 * The client decides from this whether an endpoint may be used; the
 * transfer is then made from the same parse (CURLOPT_CURLU), so the host
 * that was checked is the host that is connected to. An endpoint with
 * user name or password (`http://127.0.0.1:1@10.1.2.3/`) is refused
 * outright: credentials go in the request, never in the URL.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "transfer.h"

/* 1 when host (as curl_url gives it: IPv6 in brackets) can only be this
 * machine: 127.0.0.0/8, ::1 or the name localhost. */
int enom_host_is_loopback(const char *host)
{
    unsigned char a6[16];
    struct in_addr a4;
    size_t n = strlen(host);
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (n > 2 && n < 64 && host[0] == '[' && host[n - 1] == ']') {
        char inner[64];
        static const unsigned char ONE[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
        memcpy(inner, host + 1, n - 2);
        inner[n - 2] = '\0';
        return inet_pton(AF_INET6, inner, a6) == 1 && memcmp(a6, ONE, 16) == 0;
    }
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return 0;
}

static const char *url_error(CURLUcode rc)
{
#if LIBCURL_VERSION_NUM >= 0x075000 /* curl_url_strerror: 7.80 */
    return curl_url_strerror(rc);
#else
    (void)rc;
    return "malformed URL";
#endif
}

/* Parses url into a new handle; NULL and a message when it is not an
 * absolute http(s) URL without credentials or fragment. */
CURLU *enom_url_parse(const char *url, const char **err)
{
    CURLU *u = curl_url();
    CURLUcode rc;
    char *part = NULL;
    static const CURLUPart refused[] = { CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS };
    size_t i;

    if (!u) {
        *err = "out of memory";
        return NULL;
    }
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        *err = url_error(rc);
        curl_url_cleanup(u);
        return NULL;
    }
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (curl_url_get(u, refused[i], &part, 0) == CURLUE_OK) {
            curl_free(part);
            *err = "the URL holds a user name or password (credentials go in uid and pw, never in the endpoint)";
            curl_url_cleanup(u);
            return NULL;
        }
    }
    if (curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
        curl_free(part);
        *err = "the URL has a fragment (#...)";
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static void set_part(lua_State *L, CURLU *u, CURLUPart what, unsigned flags, const char *field)
{
    char *part = NULL;
    if (curl_url_get(u, what, &part, flags) == CURLUE_OK && part) {
        lua_pushstring(L, part);
        curl_free(part);
        lua_setfield(L, -2, field);
    }
}

/* core.parse_url(url) */
int enom_l_parse_url(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    const char *err = NULL;
    char *host = NULL, *port = NULL;
    CURLU *u;

    if (strlen(url) != lua_rawlen(L, 1)) {
        lua_pushnil(L);
        lua_pushliteral(L, "the URL holds a NUL byte");
        return 2;
    }
    u = enom_url_parse(url, &err);
    if (!u) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_createtable(L, 0, 7);
    set_part(L, u, CURLUPART_URL, 0, "url"); /* normalised: what is used */
    set_part(L, u, CURLUPART_SCHEME, 0, "scheme");
    set_part(L, u, CURLUPART_PATH, 0, "path");
    set_part(L, u, CURLUPART_QUERY, 0, "query");
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        lua_pushstring(L, host);
        lua_setfield(L, -2, "host");
        lua_pushboolean(L, enom_host_is_loopback(host));
        lua_setfield(L, -2, "loopback");
        curl_free(host);
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port) {
        lua_pushinteger(L, (lua_Integer)atoi(port));
        lua_setfield(L, -2, "port");
        curl_free(port);
    }
    curl_url_cleanup(u);
    lua_getfield(L, -1, "host");
    if (lua_isnil(L, -1)) {
        lua_pushnil(L);
        lua_pushliteral(L, "the URL has no host");
        return 2;
    }
    lua_pop(L, 1);
    return 1;
}
