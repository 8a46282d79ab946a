/*
 * system.c - what the Lua side needs from the operating system:
 * secure random bytes (for passwords), a monotonic clock and a sleep
 * (for retry back-off outside nginx), private files (the password file
 * written, the config file read, the journal), files replaced whole (for
 * metrics' textfile exports) and whether a descriptor is a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <poll.h>

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

/* core.append_private(path, data [, sync]): append to a regular file that only
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
    int sync = lua_toboolean(L, 3);
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
    /* With sync, on the disk before the call returns: a journal entry
     * written before a purchase must outlive a power cut too. */
    if (sync && fsync(fd) != 0) {
        int e = errno;
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot sync %s: %s", path, strerror(e));
        return 2;
    }
    if (close(fd) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot close %s: %s", path, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* What core.read_private reads at most unless told: a config file. */
#define ENOM_PRIVATE_READ_MAX (1024 * 1024)
/* The most a caller may ask for (a journal of a domain with many mailboxes). */
#define ENOM_PRIVATE_READ_LIMIT (1024 * 1024 * 1024)

static int read_refused(lua_State *L, int fd, const char *path, const char *why, const char *reason, int mode)
{
    if (fd >= 0)
        close(fd);
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s", path, why);
    lua_pushstring(L, reason);
    if (mode >= 0)
        lua_pushinteger(L, mode);
    else
        lua_pushnil(L);
    return 4;
}

/* core.read_private(path [, max]) -> text | nil, err, reason, mode: the
 * whole of a regular file owned by the effective user that neither group
 * nor others may read or write (a config file holding an account
 * password, a journal), of at most max bytes (1 MiB unless told; up to
 * 1 GiB). The checks are made with fstat on the descriptor that is then
 * read, so what is checked is what is read. reason: "absent", "kind",
 * "owner", "mode", "size" or "io"; mode is the file's permission bits
 * when known. */
int enom_l_read_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, ENOM_PRIVATE_READ_MAX);
    struct stat st;
    char *buf;
    size_t got = 0, room;
    int fd;
    luaL_argcheck(L, max >= 0 && max <= ENOM_PRIVATE_READ_LIMIT, 2, "must be from 0 to 1 GiB");
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return read_refused(L, -1, path, "does not exist", "absent", -1);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open %s: %s", path, strerror(e));
        lua_pushliteral(L, "io");
        lua_pushnil(L);
        return 4;
    }
    if (fstat(fd, &st) != 0)
        return read_refused(L, fd, path, "cannot be examined", "io", -1);
    if (!S_ISREG(st.st_mode))
        return read_refused(L, fd, path, "is not a regular file", "kind", -1);
    if (st.st_uid != geteuid())
        return read_refused(L, fd, path, "belongs to another user", "owner", (int)(st.st_mode & 07777));
    if (st.st_mode & 077)
        return read_refused(L, fd, path, "may be read or written by others than its owner", "mode",
                            (int)(st.st_mode & 07777));
    if ((lua_Integer)st.st_size > max) {
        char why[64];
        snprintf(why, sizeof why, "is larger than %lld bytes", (long long)max);
        return read_refused(L, fd, path, why, "size", -1);
    }
    /* One byte more than the size: a file that grows is noticed. */
    room = (size_t)st.st_size + 1;
    buf = malloc(room);
    if (!buf)
        return read_refused(L, fd, path, "cannot be read (out of memory)", "io", -1);
    for (;;) {
        ssize_t r = read(fd, buf + got, room - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return read_refused(L, fd, path, "cannot be read", "io", -1);
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got >= room) {
            free(buf);
            return read_refused(L, fd, path, "grew while it was read", "io", -1);
        }
    }
    close(fd);
    lua_pushlstring(L, buf, got);
    free(buf);
    return 1;
}

/* core.isatty(fd) -> boolean: is descriptor fd (0, 1, 2...) a terminal? */
int enom_l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
    lua_pushboolean(L, isatty((int)fd) == 1);
    return 1;
}

/* core.list_dir(path) -> { names } | nil, err: the entries of a
 * directory, "." and ".." left out, in no particular order. */
int enom_l_list_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot list %s: %s", path, strerror(errno));
        return 2;
    }
    lua_newtable(L);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
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

/* core.fd_kind(fd) -> "closed", "tty", "file", "fifo", "socket", "dir",
 * "device" or "other": what descriptor fd is, from fstat. */
int enom_l_fd_kind(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    struct stat st;
    luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
    if (fstat((int)fd, &st) != 0)
        lua_pushliteral(L, "closed");
    else if (isatty((int)fd))
        lua_pushliteral(L, "tty");
    else if (S_ISREG(st.st_mode))
        lua_pushliteral(L, "file");
    else if (S_ISFIFO(st.st_mode))
        lua_pushliteral(L, "fifo");
    else if (S_ISSOCK(st.st_mode))
        lua_pushliteral(L, "socket");
    else if (S_ISDIR(st.st_mode))
        lua_pushliteral(L, "dir");
    else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        lua_pushliteral(L, "device");
    else
        lua_pushliteral(L, "other");
    return 1;
}

/* core.hold_std() -> { [0|1|2] = true for each that was closed }: opens
 * /dev/null on any of descriptors 0, 1 and 2 that is closed, so that no
 * file or socket opened later takes its number (and what is written to
 * standard output cannot land in a journal or a connection). The caller
 * learns which were closed. */
int enom_l_hold_std(lua_State *L)
{
    int fd;
    lua_newtable(L);
    for (fd = 0; fd <= 2; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0)
            continue;
        {
            int got = open("/dev/null", O_RDWR | O_NOCTTY);
            if (got >= 0 && got != fd) {
                dup2(got, fd);
                close(got);
            }
        }
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, fd);
    }
    return 1;
}

/* core.fd_broken(fd) -> boolean: has the other end of a pipe or socket
 * gone (poll reports an error or a hang-up at once)? A pipe whose reader
 * left takes writes into its buffer until it is full: this says whether
 * what was written there can still be read. */
int enom_l_fd_broken(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    struct pollfd p;
    luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
    p.fd = (int)fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (poll(&p, 1, 0) < 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0);
    return 1;
}
