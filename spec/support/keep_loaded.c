/*
 * keep_loaded.c - preloaded in the sanitizer run only.
 *
 * lua_close() unloads C modules with dlclose(). Unloading enom.core
 * drops the last reference to libcurl and OpenSSL, whose process-wide
 * state (never freed by design: a library must not call
 * curl_global_cleanup) would then be reported as leaked, and leaks in
 * unloaded code cannot be symbolised. Keeping every module mapped makes
 * LeakSanitizer's report about our code alone, with names.
 */
#include <dlfcn.h>

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
