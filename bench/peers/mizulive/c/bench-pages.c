/*
 * The peer benchmark's pages (bench/peers/PAGES.md) on the C host: /counter, /table
 * and /list, rendered from bench/peers/mizulive/views (shared with the Python and Go
 * hosts). Listens on 127.0.0.1:$PORT (0 = a free port) and prints
 * `peer listening on http://ADDR` once it accepts connections.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mizulive.h"

#define ROWS 100
#define TOPIC "bench-broadcast"

/* The server-wide broadcast value: every /counter session shows it. */
static atomic_llong broadcast_value;

#define TRY(call)                                                                                \
    do {                                                                                         \
        if ((call) != LV_OK) {                                                                   \
            return lv_error(ctx, lv_last_error());                                               \
        }                                                                                        \
    } while (0)

/* ---- /counter --------------------------------------------------------------------- */

static int counter_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    char state[64];
    snprintf(state, sizeof state, "{\"count\": 0, \"bc\": %lld}", (long long)atomic_load(&broadcast_value));
    TRY(lv_set_state(ctx, state));
    TRY(lv_subscribe(ctx, TOPIC));
    return LV_OK;
}

static int counter_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    lv_app *app = user_data;
    (void)event_json;
    const char *name = lv_event_name(ctx);
    if (strcmp(name, "inc") == 0) {
        int64_t count = 0;
        TRY(lv_get_int(ctx, "/count", &count));
        TRY(lv_set_int(ctx, "/count", count + 1));
        TRY(lv_mark(ctx, "count"));
        return LV_OK;
    }
    if (strcmp(name, "broadcast") == 0) {
        /* Every session, this one included, shows the value when its info arrives. The
         * message is the value alone, so on_info stores it without parsing. */
        char msg[32];
        snprintf(msg, sizeof msg, "%lld", (long long)(atomic_fetch_add(&broadcast_value, 1) + 1));
        TRY(lv_publish(app, TOPIC, msg));
        return LV_OK;
    }
    return lv_error(ctx, "unknown event");
}

static int counter_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)user_data;
    const char *topic = lv_info_topic(ctx);
    if (topic == NULL || strcmp(topic, TOPIC) != 0) {
        return LV_OK;
    }
    /* The message is the new value itself, a JSON number. */
    TRY(lv_set(ctx, "/bc", msg_json));
    TRY(lv_mark(ctx, "bcast"));
    return LV_OK;
}

/* ---- /table ----------------------------------------------------------------------- */

static int table_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    /* {"rows": [0, 0, ... 100 times]} */
    char state[16 + 3 * ROWS];
    char *out = state + sprintf(state, "{\"rows\": [");
    for (int i = 0; i < ROWS; i++) {
        out += sprintf(out, i ? ",0" : "0");
    }
    strcpy(out, "]}");
    TRY(lv_set_state(ctx, state));
    return LV_OK;
}

static int table_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    if (strcmp(lv_event_name(ctx), "bump") != 0) {
        return lv_error(ctx, "unknown event");
    }
    const char *row_text = lv_event_get(ctx, "row");
    char *end = NULL;
    long row = row_text ? strtol(row_text, &end, 10) : -1;
    if (row_text == NULL || *end != '\0' || row < 0 || row >= ROWS) {
        return lv_error(ctx, "bump: row must be 0..99");
    }
    char pointer[32];
    snprintf(pointer, sizeof pointer, "/rows/%ld", row);
    int64_t value = 0;
    TRY(lv_get_int(ctx, pointer, &value));
    TRY(lv_set_int(ctx, pointer, value + 1));
    TRY(lv_mark(ctx, "rows"));
    return LV_OK;
}

/* ---- /list ------------------------------------------------------------------------ */

static int list_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    TRY(lv_set_state(ctx, "{\"items\": []}"));
    return LV_OK;
}

static int list_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    if (strcmp(lv_event_name(ctx), "add") != 0) {
        return lv_error(ctx, "unknown event");
    }
    size_t items = 0;
    TRY(lv_len(ctx, "/items", &items));
    char item[32];
    snprintf(item, sizeof item, "item-%zu", items + 1);
    TRY(lv_set_str(ctx, "/items/-", item));
    TRY(lv_mark(ctx, "items"));
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
    const char *port = getenv("PORT");
    char options[1024];
    char addr[64];
    /* BENCH_INLINE=1: callbacks on the IO threads (the opt-in `inline_callbacks`). */
    const char *inline_env = getenv("BENCH_INLINE");
    int inline_callbacks = inline_env && strcmp(inline_env, "1") == 0;
    snprintf(options, sizeof options, "{\"views\": \"%s\"%s}", views ? views : "../views",
             inline_callbacks ? ", \"inline_callbacks\": true" : "");
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port && *port ? port : "0");
    lv_app *app = lv_app_new(options);
    if (!app) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        return 1;
    }
    lv_page counter = {
        .template = "bench/counter",
        .regions = "{\"count\": \"bench/count\", \"bcast\": \"bench/bcast\"}",
        .on_mount = counter_mount,
        .on_event = counter_event,
        .on_info = counter_info,
        .user_data = app, /* to publish; the app outlives every callback */
    };
    lv_page table = {
        .template = "bench/table",
        .regions = "{\"rows\": \"bench/rows\"}",
        .on_mount = table_mount,
        .on_event = table_event,
    };
    lv_page list = {
        .template = "bench/list",
        .regions = "{\"items\": \"bench/items\"}",
        .on_mount = list_mount,
        .on_event = list_event,
    };
    if (lv_register_page(app, "/counter", &counter) != LV_OK || lv_register_page(app, "/table", &table) != LV_OK ||
        lv_register_page(app, "/list", &list) != LV_OK || lv_start(app, addr) != LV_OK) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    char bound[64];
    if (lv_local_addr(app, bound, sizeof bound) != LV_OK) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    printf("peer listening on http://%s\n", bound);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    lv_shutdown(app);
    lv_app_free(app);
    return 0;
}
