/*
 * enom.h - types and entry points shared by the files of enom.core.
 */
#ifndef ENOM_H
#define ENOM_H

#include <stddef.h>
#include "compat.h"

/* The module's version, also the default User-Agent's. */
#define ENOM_VERSION "0.1.0"

/* A lease's fence counter that is missing (a new store, or one that lost
 * its data) starts from the wall clock: microseconds since FENCE_EPOCH
 * (2023-11-14), times FENCE_SCALE, above every token granted before as
 * long as the clock does not go back and no more than FENCE_SCALE grants
 * came per microsecond; it stays below 2^53 until about 2060. Exported as
 * core.FENCE_EPOCH and core.FENCE_SCALE for the other backends. */
#define ENOM_FENCE_EPOCH 1700000000
#define ENOM_FENCE_SCALE 8

/* The longest time limit a request may ask for, in seconds; exported as
 * core.MAX_SECONDS for the Lua side's checks. */
#define ENOM_MAX_SECONDS 1e6

/* A growable malloc'd byte buffer with a hard cap. Used where bytes are
 * gathered inside a C library's callback, where nothing may raise. */
typedef struct enom_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* append fails once len would exceed it; 0 = no limit */
} enom_buf;

#define ENOM_BUF_OK 0
#define ENOM_BUF_NOMEM (-1)
#define ENOM_BUF_LIMIT (-2)

void enom_buf_init(enom_buf *b, size_t limit);
int enom_buf_append(enom_buf *b, const char *p, size_t n);
/* Room for n more bytes (and the NUL) without changing len. */
int enom_buf_reserve(enom_buf *b, size_t n);
void enom_buf_reset(enom_buf *b); /* len = 0, memory kept */
void enom_buf_free(enom_buf *b);  /* safe twice */

/* encode.c: enom.core.encode(params [, groups]) -> string */
int enom_l_encode(lua_State *L);

/* parse.c: enom.core.parse(body, format) -> table | nil, err */
int enom_l_parse(lua_State *L);

/* client.c: enom.core.client(opts) -> client userdata; registers the
 * metatable "enom.core.client" when called with the module table on top. */
int enom_l_client(lua_State *L);
void enom_client_register(lua_State *L);

/* core.c: registers userdata type `name`: methods as __index, close as
 * __gc and __close (it must be safe to run twice), tostring, __name. */
void enom_udata_type(lua_State *L, const char *name, const luaL_Reg *methods,
                     lua_CFunction close, lua_CFunction tostring);

/* url.c: enom.core.parse_url(url) -> parts | nil, err; and whether a
 * host (as libcurl's URL parser gives it) can only be this machine. */
int enom_l_parse_url(lua_State *L);
int enom_host_is_loopback(const char *host);

/* system.c: random bytes from the OS CSPRNG, a monotonic clock, sleep */
int enom_l_random_bytes(lua_State *L);
int enom_l_now(lua_State *L);
int enom_l_sleep(lua_State *L);
int enom_l_append_private(lua_State *L);
int enom_l_read_private(lua_State *L);
int enom_l_isatty(lua_State *L);
int enom_l_list_dir(lua_State *L);
int enom_l_fd_kind(lua_State *L);
int enom_l_hold_std(lua_State *L);
int enom_l_fd_broken(lua_State *L);
int enom_l_replace_file(lua_State *L);

/* lock.c: flock-based host leases; adds lock_dir, lock_open, geteuid */
void enom_lock_register(lua_State *L);

/* signal.c: core.signals([action]) -> stop signals counted since "catch", the first one's name */
int enom_l_signals(lua_State *L);
int enom_l_ignore_sigpipe(lua_State *L);

#endif /* ENOM_H */
