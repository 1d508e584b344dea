/*
 * The pages of __NAME__.
 *
 * /counter  + and - buttons, the count and a short log, one count per page session.
 * /list     a list every open page sees grow: an added item is published on the
 *           topic "list" and every page subscribed to it appends it.
 *
 * Both work live over the WebSocket and, with JavaScript off, as plain form posts.
 */
#define _POSIX_C_SOURCE 200809L
#include "pages.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- /counter ---------------------------------------------------------------- */

#define LOG_MAX 10

static int counter_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    return lv_set_state(ctx, "{\"count\": 0, \"log\": []}");
}

static int counter_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    const char *name = lv_event_name(ctx);
    int sign = strcmp(name, "inc") == 0 ? 1 : strcmp(name, "dec") == 0 ? -1 : 0;
    if (sign == 0) {
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

/* ---- /list ------------------------------------------------------------------- */

#define ITEMS_MAX 50
#define TEXT_MAX 80

/* The list every page starts from: the newest ITEMS_MAX items as one JSON array,
 * kept by the program (a database in a real app). */
static struct {
    pthread_mutex_t lock;
    long next_id;
    size_t count;
    char *items[ITEMS_MAX]; /* each a JSON object {"id": .., "text": ..} */
} shared = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1};

/* The shared list as a JSON array; the caller frees it. */
static char *shared_items(void) {
    pthread_mutex_lock(&shared.lock);
    size_t need = 3;
    for (size_t i = 0; i < shared.count; i++) {
        need += strlen(shared.items[i]) + 1;
    }
    char *json = malloc(need);
    if (json) {
        char *at = json;
        *at++ = '[';
        for (size_t i = 0; i < shared.count; i++) {
            at += sprintf(at, "%s%s", i ? "," : "", shared.items[i]);
        }
        strcpy(at, "]");
    }
    pthread_mutex_unlock(&shared.lock);
    return json;
}

/* Adds an item whose text is `text_json` (a JSON string) to the shared list and
 * returns it as a JSON object for publishing; the caller frees it. */
static char *shared_add(const char *text_json) {
    size_t need = strlen(text_json) + 48;
    char *item = malloc(need);
    char *copy = malloc(need);
    if (!item || !copy) {
        free(item);
        free(copy);
        return NULL;
    }
    pthread_mutex_lock(&shared.lock);
    snprintf(item, need, "{\"id\": %ld, \"text\": %s}", shared.next_id++, text_json);
    if (shared.count == ITEMS_MAX) {
        free(shared.items[0]);
        memmove(shared.items, shared.items + 1, (ITEMS_MAX - 1) * sizeof shared.items[0]);
        shared.count--;
    }
    shared.items[shared.count++] = strcpy(copy, item);
    pthread_mutex_unlock(&shared.lock);
    return item;
}

static int list_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    char *items = shared_items();
    if (!items) {
        return lv_error(ctx, "out of memory");
    }
    int rc = lv_set_state(ctx, "{\"items\": [], \"added\": 0, \"error\": null}");
    if (rc == LV_OK) {
        rc = lv_set(ctx, "/items", items);
    }
    free(items);
    if (rc == LV_OK) {
        rc = lv_subscribe(ctx, "list");
    }
    return rc == LV_OK ? LV_OK : lv_error(ctx, lv_last_error());
}

static int list_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    lv_app *app = user_data;
    if (strcmp(lv_event_name(ctx), "add") != 0) {
        return lv_error(ctx, "unknown event");
    }
    const char *text = lv_event_get(ctx, "text");
    size_t len = text ? strlen(text) : 0;
    const char *problem = len == 0 ? "Write something first." : len > TEXT_MAX ? "At most 80 bytes, please." : NULL;
    lv_mark(ctx, "new");
    if (problem) {
        return lv_set_str(ctx, "/error", problem);
    }
    /* The state turns the text into a JSON string: no escaping by hand. */
    int64_t added = 0;
    if (lv_set_str(ctx, "/last", text) != LV_OK || lv_set(ctx, "/error", "null") != LV_OK ||
        lv_get_int(ctx, "/added", &added) != LV_OK || lv_set_int(ctx, "/added", added + 1) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    char *item = shared_add(lv_get(ctx, "/last"));
    if (!item) {
        return lv_error(ctx, "out of memory");
    }
    /* Every page on the topic, this one included, appends it in list_info. */
    int rc = lv_app_publish(app, "list", item);
    free(item);
    return rc == LV_OK ? LV_OK : lv_error(ctx, lv_last_error());
}

static int list_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)user_data;
    size_t n = 0;
    if (lv_set(ctx, "/items/-", msg_json) != LV_OK || lv_len(ctx, "/items", &n) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    if (n > ITEMS_MAX) {
        lv_remove(ctx, "/items/0");
    }
    lv_mark(ctx, "items");
    return LV_OK;
}

int pages_register(lv_app *app) {
    lv_page counter = {
        .template = "counter/index",
        .regions = "{\"stats\": \"counter/stats\", \"log\": \"counter/log\"}",
        .on_mount = counter_mount,
        .on_event = counter_event,
    };
    lv_page list = {
        .template = "list/index",
        .regions = "{\"new\": \"list/new\", \"items\": \"list/items\"}",
        .on_mount = list_mount,
        .on_event = list_event,
        .on_info = list_info,
        .user_data = app,
    };
    int rc = lv_register_page(app, "/counter", &counter);
    if (rc == LV_OK) {
        rc = lv_register_page(app, "/list", &list);
    }
    return rc;
}
