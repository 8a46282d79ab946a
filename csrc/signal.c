/*
 * signal.c - stop signals as counts, for programs that must finish the
 * requests in flight before stopping (the enom command's apply, and its
 * commands that change state).
 *
 * core.signals("catch")   SIGINT, SIGTERM and SIGHUP only count (Ctrl-C,
 *                         cron's `timeout`, a dropped SSH session); a
 *                         second one of a kind has its default action at
 *                         once.
 * core.signals()          count, name: stop signals since "catch", and
 *                         the name of the first ("SIGINT", ...) or nil
 * core.signals("restore") the dispositions that were there before "catch"
 * core.ignore_sigpipe()   for the rest of the process: a write to a pipe
 *                         whose reader left fails (EPIPE) instead of
 *                         killing the process with passwords unwritten
 *
 * The handler only stores to sig_atomic_t; Lua reads the count between
 * requests. libcurl retries a poll interrupted by a signal.
 */
#include <signal.h>
#include <string.h>

#include "enom.h"

static const int CAUGHT[] = { SIGINT, SIGTERM, SIGHUP };
static const char *const NAMES[] = { "SIGINT", "SIGTERM", "SIGHUP" };
#define NCAUGHT 3

static volatile sig_atomic_t counts[NCAUGHT];
static volatile sig_atomic_t total = 0;
static volatile sig_atomic_t first = -1;
static struct sigaction saved[NCAUGHT];
static int caught = 0;

static void on_signal(int sig)
{
    int i;
    for (i = 0; i < NCAUGHT; i++) {
        if (CAUGHT[i] != sig)
            continue;
        if (first < 0)
            first = i;
        if (total < 1000)
            total++;
        if (counts[i] < 1000)
            counts[i]++;
        if (counts[i] >= 2) {
            /* The sender insists: the default action, now. */
            signal(sig, SIG_DFL);
            raise(sig);
        }
    }
}

static int catch_all(lua_State *L)
{
    struct sigaction sa;
    int i;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    total = 0;
    first = -1;
    for (i = 0; i < NCAUGHT; i++) {
        counts[i] = 0;
        if (sigaction(CAUGHT[i], &sa, caught ? NULL : &saved[i]) != 0)
            return luaL_error(L, "sigaction failed");
    }
    caught = 1;
    return 0;
}

static int restore_all(lua_State *L)
{
    int i;
    if (!caught)
        return 0;
    for (i = 0; i < NCAUGHT; i++)
        if (sigaction(CAUGHT[i], &saved[i], NULL) != 0)
            return luaL_error(L, "sigaction failed");
    caught = 0;
    return 0;
}

int enom_l_signals(lua_State *L)
{
    static const char *const actions[] = { "count", "catch", "restore", NULL };
    int action = luaL_checkoption(L, 1, "count", actions);
    if (action == 1)
        catch_all(L);
    else if (action == 2)
        restore_all(L);
    lua_pushinteger(L, (lua_Integer)total);
    if (first >= 0)
        lua_pushstring(L, NAMES[first]);
    else
        lua_pushnil(L);
    return 2;
}

int enom_l_ignore_sigpipe(lua_State *L)
{
    (void)L;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}
