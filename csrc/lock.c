/*
 * lock.c - host-wide leases: flock(2) on one lock file per key.
 *
 * A flock belongs to the open file description: the kernel drops it when
 * the last descriptor closes, so a killed process leaves no stale lock.
 * Locks are only ever tried (LOCK_NB); waiting is the Lua side's job, with
 * a sleep that never blocks a runner or an nginx worker.
 *
 *   core.lock_dir(path)        -> path | nil, err  (created 0700, checked)
 *   core.lock_open(dir, key)   -> lock | nil, err  (file created 0600)
 *   core.lock_name(key)        -> the lock file's name for key
 *   core.geteuid()             -> integer
 *   lock:try()                 -> true (now held) | false (held elsewhere) | nil, err
 *   lock:fence()               -> the file's grant counter, incremented (held only)
 *   lock:held()                -> boolean
 *   lock:close()               -> true; drops the lock; safe twice (also __gc, __close)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enom.h"

#define LOCK_MT "enom.lock"
#define LOCK_NAME_MAX 255
#define LOCK_NAME_KEEP 200 /* a longer name is cut here and ends in a hash */
#define FENCE_TEXT_MAX 32

typedef struct enom_lock {
    int fd;   /* -1 once closed */
    int held; /* 1 while this descriptor holds the flock */
} enom_lock;

static int push_fail(lua_State *L, const char *what, const char *path, int e)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    return 2;
}

/* A lock directory is ours alone: a directory (not a link to one), owned
 * by the effective user, writable by nobody else. Anyone who could write
 * it could swap a lock file and break the exclusion. */
static const char *dir_problem(int dfd)
{
    struct stat st;
    if (fstat(dfd, &st) != 0)
        return "cannot be examined";
    if (!S_ISDIR(st.st_mode))
        return "is not a directory";
    if (st.st_uid != geteuid())
        return "is owned by another user";
    if ((st.st_mode & 022) != 0)
        return "is writable by group or others";
    return NULL;
}

static int open_dir(lua_State *L, const char *path, int *out)
{
    const char *why;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return push_fail(L, "cannot open lock directory", path, errno);
    why = dir_problem(dfd);
    if (why) {
        close(dfd);
        lua_pushnil(L);
        lua_pushfstring(L, "refusing lock directory %s: it %s", path, why);
        return 2;
    }
    *out = dfd;
    return 0;
}

/* core.lock_dir(path): creates the last component 0700 when missing, then
 * checks it; parents must exist. */
static int l_lock_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int dfd, n;
    luaL_argcheck(L, path[0] != '\0', 1, "must not be empty");
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return push_fail(L, "cannot create lock directory", path, errno);
    n = open_dir(L, path, &dfd);
    if (n)
        return n;
    close(dfd);
    lua_pushvalue(L, 1);
    return 1;
}

/* The file name for a key: "lease-" and the key with every byte outside
 * [A-Za-z0-9._-] written %XX, so no key can name another path ('/' and
 * NUL never pass, and the prefix rules out "." and ".."). A name that
 * would be too long keeps its first part and ends with "~" and a 64-bit
 * FNV-1a of the whole key: two long keys sharing a hash would only share
 * a lock, never lose one. */
static size_t lock_file_name(const char *key, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, i;
    memcpy(out, "lease-", 6);
    o = 6;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (o + 3 > LOCK_NAME_KEEP)
            break;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (i < len) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (i = 0; i < len; i++) {
            h ^= (unsigned char)key[i];
            h *= 0x100000001b3ULL;
        }
        o += (size_t)snprintf(out + o, LOCK_NAME_MAX + 1 - o, "~%016" PRIx64, h);
    }
    out[o] = '\0';
    return o;
}

/* core.lock_open(dir, key) -> lock | nil, err */
static int l_lock_open(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    size_t klen;
    const char *key = luaL_checklstring(L, 2, &klen);
    char name[LOCK_NAME_MAX + 1];
    enom_lock *lk;
    struct stat st;
    int dfd, fd, n, e;
    luaL_argcheck(L, klen > 0, 2, "must not be empty");
    lock_file_name(key, klen, name);
    /* The userdata first: if allocating it raises, no descriptor leaks. */
    lk = (enom_lock *)lua_newuserdata(L, sizeof *lk);
    lk->fd = -1;
    lk->held = 0;
    luaL_setmetatable(L, LOCK_MT);
    n = open_dir(L, dir, &dfd);
    if (n)
        return n;
    fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    e = errno;
    close(dfd);
    if (fd < 0)
        return push_fail(L, "cannot open lock file in", dir, e);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "refusing lock file %s in %s: not a regular file of this user", name, dir);
        return 2;
    }
    lk->fd = fd;
    return 1;
}

static int l_lock_name(lua_State *L)
{
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    char name[LOCK_NAME_MAX + 1];
    luaL_argcheck(L, klen > 0, 1, "must not be empty");
    lua_pushlstring(L, name, lock_file_name(key, klen, name));
    return 1;
}

static int l_geteuid(lua_State *L)
{
    enom_pushinteger(L, geteuid());
    return 1;
}

static enom_lock *check_open(lua_State *L)
{
    enom_lock *lk = (enom_lock *)luaL_checkudata(L, 1, LOCK_MT);
    if (lk->fd < 0)
        luaL_error(L, "enom.lock: used after close");
    return lk;
}

static int l_try(lua_State *L)
{
    enom_lock *lk = check_open(L);
    if (!lk->held) {
        while (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == EWOULDBLOCK) {
                lua_pushboolean(L, 0);
                return 1;
            }
            lua_pushnil(L);
            lua_pushfstring(L, "flock failed: %s", strerror(e));
            return 2;
        }
        lk->held = 1;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* The file holds the last token granted, as decimal text: every holder,
 * in any process, reads it and writes it plus one while it holds the
 * flock, so the number only grows. A file without one (new, or its
 * directory emptied by a reboot) starts from the wall clock (see
 * ENOM_FENCE_EPOCH). */
static int l_fence(lua_State *L)
{
    enom_lock *lk = check_open(L);
    char text[FENCE_TEXT_MAX + 1];
    unsigned long long n = 0;
    ssize_t got;
    int len;
    if (!lk->held)
        return luaL_error(L, "enom.lock: fence without holding the lock");
    do
        got = pread(lk->fd, text, FENCE_TEXT_MAX, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read lock file: %s", strerror(errno));
        return 2;
    }
    text[got] = '\0';
    if (got > 0) {
        char *end;
        errno = 0;
        n = strtoull(text, &end, 10);
        if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || n >= (1ULL << 53)) {
            lua_pushnil(L);
            lua_pushliteral(L, "lock file holds no grant counter (changed by something else?)");
            return 2;
        }
    }
    if (got == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        n = ((unsigned long long)(ts.tv_sec - ENOM_FENCE_EPOCH) * 1000000ULL
             + (unsigned long long)ts.tv_nsec / 1000ULL) * ENOM_FENCE_SCALE;
    }
    n++;
    len = snprintf(text, sizeof text, "%llu\n", n);
    if (pwrite(lk->fd, text, (size_t)len, 0) != len) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot write lock file: %s", strerror(errno));
        return 2;
    }
    enom_pushinteger(L, n);
    return 1;
}

static int l_held(lua_State *L)
{
    enom_lock *lk = (enom_lock *)luaL_checkudata(L, 1, LOCK_MT);
    lua_pushboolean(L, lk->fd >= 0 && lk->held);
    return 1;
}

/* Closing the descriptor drops the flock. Lock files are never removed:
 * unlinking one while another process waits on it would let two holders
 * lock two different files of the same name. */
static int l_close(lua_State *L)
{
    enom_lock *lk = (enom_lock *)luaL_checkudata(L, 1, LOCK_MT);
    if (lk->fd >= 0) {
        close(lk->fd);
        lk->fd = -1;
    }
    lk->held = 0;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_tostring(lua_State *L)
{
    lua_pushfstring(L, LOCK_MT " (%p)", lua_touserdata(L, 1));
    return 1;
}

static const luaL_Reg lock_methods[] = {
    { "try", l_try },
    { "fence", l_fence },
    { "held", l_held },
    { "close", l_close },
    { NULL, NULL }
};

static const luaL_Reg lock_funcs[] = {
    { "lock_dir", l_lock_dir },
    { "lock_open", l_lock_open },
    { "lock_name", l_lock_name },
    { "geteuid", l_geteuid },
    { NULL, NULL }
};

/* Adds the functions to the module table on top of the stack. */
void enom_lock_register(lua_State *L)
{
    enom_udata_type(L, LOCK_MT, lock_methods, l_close, l_tostring);
    luaL_setfuncs(L, lock_funcs, 0);
}
