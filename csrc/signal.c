/*
 * signal.c - a SIGINT flag for programs that must finish the request in
 * flight before stopping (the enom command's apply).
 *
 * core.sigint("catch")   Ctrl-C only counts; a second one stops at once
 * core.sigint()          how many SIGINTs arrived since "catch"
 * core.sigint("restore") the disposition that was there before "catch"
 *
 * The handler only stores to a sig_atomic_t; Lua reads the count between
 * requests. libcurl retries a poll interrupted by the signal.
 */
#include <signal.h>
#include <string.h>

#include "enom.h"

static volatile sig_atomic_t sigint_count = 0;
static struct sigaction sigint_saved;
static int sigint_caught = 0;

static void on_sigint(int sig)
{
    if (sigint_count < 1000)
        sigint_count++;
    if (sigint_count >= 2) {
        /* The user insists: the default action, now. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

int enom_l_sigint(lua_State *L)
{
    static const char *const actions[] = { "count", "catch", "restore", NULL };
    int action = luaL_checkoption(L, 1, "count", actions);
    if (action == 1) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigint_count = 0;
        if (sigaction(SIGINT, &sa, sigint_caught ? NULL : &sigint_saved) != 0)
            return luaL_error(L, "sigaction failed");
        sigint_caught = 1;
    } else if (action == 2) {
        if (sigint_caught && sigaction(SIGINT, &sigint_saved, NULL) != 0)
            return luaL_error(L, "sigaction failed");
        sigint_caught = 0;
    }
    lua_pushinteger(L, (lua_Integer)sigint_count);
    return 1;
}
