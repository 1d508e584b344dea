/*
 * The mizulive counter: + and - buttons, a count region and a log region.
 * Works live over the WebSocket and, with JavaScript off, as plain form posts.
 *
 *   make -C examples-c/counter run      (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mizulive.h"

/* The log keeps the last few entries only, so the page stays small. */
#define LOG_MAX 10

static int on_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    return lv_set_state(ctx, "{\"count\": 0, \"log\": []}");
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    const char *name = lv_event_name(ctx);
    int sign;
    if (strcmp(name, "inc") == 0) {
        sign = 1;
    } else if (strcmp(name, "dec") == 0) {
        sign = -1;
    } else {
        return lv_error(ctx, "unknown event");
    }
    const char *by_text = lv_event_get(ctx, "by");
    long by = by_text ? strtol(by_text, NULL, 10) : 1;

    int64_t count = 0;
    if (lv_get_int(ctx, "/count", &count) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    count += sign * by;

    char entry[64];
    snprintf(entry, sizeof entry, "%s %ld → %lld", name, by, (long long)count);
    size_t entries = 0;
    if (lv_set_int(ctx, "/count", count) != LV_OK || lv_set_str(ctx, "/log/-", entry) != LV_OK ||
        lv_len(ctx, "/log", &entries) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    if (entries > LOG_MAX) {
        lv_remove(ctx, "/log/0");
    }
    lv_mark(ctx, "stats");
    lv_mark(ctx, "log");
    return LV_OK;
}

int main(void) {
    if (lv_abi_version() != LV_ABI_VERSION) {
        fprintf(stderr, "libmizulive ABI %u, built for %d\n", lv_abi_version(), LV_ABI_VERSION);
        return 1;
    }
    /* Block SIGINT/SIGTERM before the library starts its threads, so they inherit the
     * mask and the main thread alone receives them through sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    const char *views = getenv("MIZULIVE_VIEWS");
    char options[512];
    snprintf(options, sizeof options, "{\"views\": \"%s\", \"dev\": %s}", views ? views : "views",
             getenv("MIZULIVE_DEV") ? "true" : "false");
    lv_app *app = lv_app_new(options);
    if (!app) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        return 1;
    }
    lv_page page = {
        .template = "counter/index",
        .regions = "{\"stats\": \"counter/stats\", \"log\": \"counter/log\"}",
        .on_mount = on_mount,
        .on_event = on_event,
    };
    if (lv_app_register_page(app, "/counter", &page) != LV_OK || lv_app_register_page(app, "/", &page) != LV_OK ||
        lv_app_start(app, NULL) != LV_OK) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    char addr[64];
    if (lv_app_local_addr(app, addr, sizeof addr) == LV_OK) {
        printf("counter listening on http://%s/counter\n", addr);
        fflush(stdout);
    }
    int sig = 0;
    sigwait(&stop, &sig);
    printf("stopping\n");
    lv_app_shutdown(app);
    lv_app_free(app);
    return 0;
}
