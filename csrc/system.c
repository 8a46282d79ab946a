/*
 * system.c - what the Lua side needs from the operating system:
 * secure random bytes (for passwords), a monotonic clock and a sleep
 * (for retry back-off outside nginx), files only their owner may read,
 * and files replaced whole (for metrics' textfile exports).
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <sys/random.h>
#include <time.h>

#include "enom.h"

#define ENOM_RANDOM_MAX 4096
#define ENOM_SLEEP_MAX 86400

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

/* core.sleep(seconds) -> true | nil, err: blocks the calling thread;
 * not for nginx. A value out of range (negative, NaN, over a day) is
 * refused with nil, err rather than raised: it usually comes from a
 * computed back-off, and the caller decides what to do about it. */
int enom_l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(s >= 0 && s <= ENOM_SLEEP_MAX)) {
        lua_pushnil(L);
        lua_pushliteral(L, "sleep: seconds must be between 0 and 86400");
        return 2;
    }
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    if (ts.tv_nsec > 999999999L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    lua_pushboolean(L, 1);
    return 1;
}

static int refuse(lua_State *L, int fd, const char *path, const char *why)
{
    if (fd >= 0)
        close(fd);
    lua_pushnil(L);
    lua_pushfstring(L, "refusing %s: %s", path, why);
    return 2;
}

/* core.append_private(path, data): append to a regular file that only
 * its owner, the caller, may read: created with mode 0600, or an
 * existing file owned by the effective user with mode exactly 0600.
 * Anything else is refused: a symbolic link (O_NOFOLLOW), a FIFO or a
 * device (O_NONBLOCK: opening never blocks, and fstat refuses it), a
 * file of another user (who could read what is appended), or a file
 * open to group or others. For handing generated passwords back. */
int enom_l_append_private(lua_State *L)
{
    size_t len, off = 0;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    struct stat st;
    int created = 1;
    int fd = open(path, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open(path, flags);
    }
    if (fd < 0) {
        int e = errno;
        lua_pushnil(L);
        if (e == ELOOP)
            lua_pushfstring(L, "refusing %s: it is a symbolic link", path);
        else if (e == ENXIO)
            lua_pushfstring(L, "refusing %s: not a regular file", path);
        else
            lua_pushfstring(L, "cannot open %s: %s", path, strerror(e));
        return 2;
    }
    if (fstat(fd, &st) != 0)
        return refuse(L, fd, path, "cannot stat it");
    if (!S_ISREG(st.st_mode))
        return refuse(L, fd, path, "not a regular file");
    if (st.st_uid != geteuid())
        return refuse(L, fd, path, "owned by another user");
    /* A new file gets 0600 whatever the umask took away. */
    if (created && (st.st_mode & 07777) != 0600 && fchmod(fd, 0600) == 0)
        st.st_mode = (st.st_mode & ~(mode_t)07777) | 0600;
    if ((st.st_mode & 07777) != 0600)
        return refuse(L, fd, path, "its mode is not 0600 (readable and writable by its owner only)");
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

/* Unlink the temp file, free its name and push nil, "what path: errno". */
static int replace_failed(lua_State *L, int fd, char *tmp, const char *what, const char *path, int e)
{
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    return 2;
}

/* core.replace_file(path, data [, mode]) -> true | nil, err: replace
 * `path` whole or not at all. The data goes to a temp file in the same
 * folder (".name.XXXXXX": a reader that looks for "*.prom" never sees
 * it), is flushed to disk (fsync), then renamed over `path`, and the
 * folder is synced so the rename survives a crash. A reader sees the old
 * file or the new one, never a part (node_exporter's textfile
 * collector reads while cron writes). mode: the new file's permission
 * bits (default 0644). */
int enom_l_replace_file(lua_State *L)
{
    size_t len, off = 0, plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    const char *data = luaL_checklstring(L, 2, &len);
    lua_Integer mode = luaL_optinteger(L, 3, 0644);
    const char *slash;
    size_t dlen;
    char *tmp, *dir;
    int fd, e;
    luaL_argcheck(L, plen > 0 && strlen(path) == plen, 1, "must be a path without NUL bytes");
    luaL_argcheck(L, mode >= 0 && mode <= 0777, 3, "must be permission bits (0 to 0777)");
    luaL_argcheck(L, path[plen - 1] != '/', 1, "must name a file, not a folder");
    slash = strrchr(path, '/');
    dlen = slash ? (size_t)(slash - path) + 1 : 0; /* the folder with its '/' */
    tmp = malloc(plen + 10);
    if (!tmp)
        return replace_failed(L, -1, NULL, "cannot replace", path, ENOMEM);
    memcpy(tmp, path, dlen);
    tmp[dlen] = '.';
    memcpy(tmp + dlen + 1, path + dlen, plen - dlen);
    memcpy(tmp + plen + 1, ".XXXXXX", 8);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        free(tmp);
        return replace_failed(L, -1, NULL, "cannot create a temp file beside", path, e);
    }
    if (fchmod(fd, (mode_t)mode) != 0)
        return replace_failed(L, fd, tmp, "cannot set the mode of the temp file for", path, errno);
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return replace_failed(L, fd, tmp, "cannot write the temp file for", path, errno);
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        return replace_failed(L, fd, tmp, "cannot flush the temp file for", path, errno);
    if (close(fd) != 0)
        return replace_failed(L, -1, tmp, "cannot close the temp file for", path, errno);
    if (rename(tmp, path) != 0)
        return replace_failed(L, -1, tmp, "cannot rename the temp file to", path, errno);
    free(tmp);
    /* The folder's entry, so the new name survives a crash. */
    dir = malloc(dlen + 2);
    if (dir) {
        if (dlen == 0) {
            dir[0] = '.';
            dir[1] = '\0';
        } else {
            memcpy(dir, path, dlen);
            dir[dlen] = '\0';
        }
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}
