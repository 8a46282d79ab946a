/*
 * system.c - what the Lua side needs from the operating system:
 * secure random bytes (for passwords), a monotonic clock and a sleep
 * (for retry back-off outside nginx).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <sys/random.h>
#include <time.h>

#include "enom.h"

#define ENOM_RANDOM_MAX 4096

/* core.random_bytes(n) -> string of n bytes from getrandom(2). */
int enom_l_random_bytes(lua_State *L)
{
    unsigned char buf[ENOM_RANDOM_MAX];
    lua_Integer n = luaL_checkinteger(L, 1);
    size_t got = 0;
    luaL_argcheck(L, n >= 0 && n <= ENOM_RANDOM_MAX, 1, "must be between 0 and 4096");
    while (got < (size_t)n) {
        ssize_t r = getrandom(buf + got, (size_t)n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            lua_pushnil(L);
            lua_pushfstring(L, "getrandom failed (errno %d)", errno);
            return 2;
        }
        got += (size_t)r;
    }
    lua_pushlstring(L, (const char *)buf, got);
    return 1;
}

/* core.now() -> seconds (float) on a monotonic clock. */
int enom_l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.sleep(seconds): blocks the calling thread; not for nginx. */
int enom_l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;
    luaL_argcheck(L, s >= 0 && s <= 86400 && !isnan(s), 1, "must be between 0 and 86400");
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

/* core.append_private(path, data): append to a file readable by its owner
 * only (created 0600; an existing file with group or other access is
 * refused). For handing generated passwords back to the caller. */
int enom_l_append_private(lua_State *L)
{
    size_t len, off = 0;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    struct stat st;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
        return 2;
    }
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "refusing %s: not a regular file private to its owner (mode 0600)", path);
        return 2;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            close(fd);
            lua_pushnil(L);
            lua_pushfstring(L, "cannot write %s: %s", path, strerror(e));
            return 2;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot close %s: %s", path, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}
