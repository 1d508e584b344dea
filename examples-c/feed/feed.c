/*
 * A live feed: the page subscribes to topic "feed" when it mounts; a thread of this
 * program publishes an item every second and every open page shows it at once. A
 * timer ticks a clock region once a second.
 *
 *   make -C examples-c/feed run      (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mizulive.h"

#define ITEMS_MAX 10

static const char *TICK = "{\"tick\": true}";

static void now_text(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S UTC", &tm);
}

static int on_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    char now[32];
    now_text(now, sizeof now);
    if (lv_set_state(ctx, "{\"items\": [], \"now\": \"\"}") != LV_OK || lv_set_str(ctx, "/now", now) != LV_OK ||
        lv_subscribe(ctx, "feed") != LV_OK || lv_send_after(ctx, 1000, TICK, NULL) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    return LV_OK;
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    return lv_error(ctx, "this page has no events");
}

static int on_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)user_data;
    if (lv_info_topic(ctx) == NULL) {
        /* Our own timer: update the clock and tick again. */
        char now[32];
        now_text(now, sizeof now);
        lv_set_str(ctx, "/now", now);
        lv_mark(ctx, "clock");
        return lv_send_after(ctx, 1000, TICK, NULL);
    }
    /* Newest first: the new item goes in front, and at most ITEMS_MAX are kept. */
    size_t n = 0;
    if (lv_len(ctx, "/items", &n) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    while (n >= ITEMS_MAX) {
        char last[32];
        snprintf(last, sizeof last, "/items/%zu", --n);
        lv_remove(ctx, last);
    }
    const char *items = lv_get(ctx, "/items");
    size_t need = strlen(items) + strlen(msg_json) + 4;
    char *next = malloc(need);
    if (!next) {
        return lv_error(ctx, "out of memory");
    }
    /* items is "[...]": build "[msg,...]" or "[msg]". */
    snprintf(next, need, "[%s%s%s", msg_json, strcmp(items, "[]") == 0 ? "" : ",", items + 1);
    int rc = lv_set(ctx, "/items", next);
    free(next);
    if (rc != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    return lv_mark(ctx, "items");
}

static atomic_bool running = true;

static void *publisher(void *arg) {
    lv_app *app = arg;
    static const char *words[] = {"deploy finished", "new signup", "invoice paid", "build green", "comment added"};
    for (long n = 1; atomic_load(&running); n++) {
        struct timespec second = {1, 0};
        nanosleep(&second, NULL);
        char msg[128];
        snprintf(msg, sizeof msg, "{\"n\": %ld, \"text\": \"%s\"}", n, words[n % 5]);
        if (lv_app_publish(app, "feed", msg) != LV_OK) {
            fprintf(stderr, "publish: %s\n", lv_last_error());
        }
    }
    return NULL;
}

int main(void) {
    if (lv_abi_version() != LV_ABI_VERSION) {
        fprintf(stderr, "libmizulive ABI %u, built for %d\n", lv_abi_version(), LV_ABI_VERSION);
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    const char *views = getenv("MIZULIVE_VIEWS");
    char options[512];
    snprintf(options, sizeof options, "{\"views\": \"%s\"}", views ? views : "views");
    lv_app *app = lv_app_new(options);
    if (!app) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        return 1;
    }
    lv_page page = {
        .template = "feed/index",
        .regions = "{\"clock\": \"feed/clock\", \"items\": \"feed/items\"}",
        .on_mount = on_mount,
        .on_event = on_event,
        .on_info = on_info,
    };
    if (lv_app_register_page(app, "/feed", &page) != LV_OK || lv_app_register_page(app, "/", &page) != LV_OK ||
        lv_app_start(app, NULL) != LV_OK) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, publisher, app);
    char addr[64];
    if (lv_app_local_addr(app, addr, sizeof addr) == LV_OK) {
        printf("feed listening on http://%s/feed\n", addr);
        fflush(stdout);
    }
    int sig = 0;
    sigwait(&stop, &sig);
    atomic_store(&running, false);
    pthread_join(thread, NULL);
    lv_app_shutdown(app);
    lv_app_free(app);
    return 0;
}
