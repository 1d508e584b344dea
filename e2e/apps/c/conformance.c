/*
 * The mizulive conformance app in C: the contract of e2e/SPEC.md over the shared views
 * in e2e/views. The same app exists in Python (e2e/apps/python) and Go (e2e/apps/go);
 * the browser suite in e2e/tests runs against each.
 *
 *   make -C e2e/apps/c && e2e/apps/c/conformance
 *
 * It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000), reads its views from
 * $MIZULIVE_VIEWS (default: e2e/views of this checkout), runs in dev mode when
 * $MIZULIVE_DEV is "1", and prints "conformance listening on http://ADDR/" as its
 * first stdout line. SIGINT or SIGTERM stops it gracefully with exit status 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mizulive.h"

/* e2e/views of this checkout; the Makefile passes the absolute path. */
#ifndef CONFORMANCE_VIEWS
#define CONFORMANCE_VIEWS "../../views"
#endif

#define LOG_MAX 10      /* /counter keeps the last 10 log entries */
#define ITEMS_MAX 5     /* /feed keeps the newest 5 items */
#define MESSAGES_MAX 50 /* /rooms/{room} keeps the last 50 messages */
#define TICK_MS 200     /* /form's clock */
#define FEED_MS 300     /* the publisher's period */
#define MIN_NAME 3

static const char *TICK = "{\"tick\": true}";
static const char *NAME_ERROR = "Name must be at least 3 characters";

/* Fails the callback with lv_last_error() when an lv_* call fails. */
#define TRY(call)                                                                                                  \
    do {                                                                                                           \
        if ((call) != LV_OK) {                                                                                     \
            return lv_error(ctx, lv_last_error());                                                                 \
        }                                                                                                          \
    } while (0)

/* The code point at s (valid UTF-8, as the library hands out) and its length in bytes. */
static uint32_t decode_utf8(const char *s, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *len = 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *len = 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0) {
        *len = 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
           (u[3] & 0x3F);
}

/* Unicode White_Space (what Go's unicode.IsSpace accepts). */
static bool is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Trims Unicode whitespace from both ends of s: the start and byte length of what is left. */
static const char *trim(const char *s, size_t *out_len) {
    size_t n = 0;
    while (*s && is_space(decode_utf8(s, &n))) {
        s += n;
    }
    size_t len = strlen(s);
    while (len > 0) {
        size_t start = len - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80) {
            start--;
        }
        if (!is_space(decode_utf8(s + start, &n))) {
            break;
        }
        len = start;
    }
    *out_len = len;
    return s;
}

/* Parses a decimal integer (an optional sign, digits; surrounding whitespace allowed)
 * into *out; false when text is not one or does not fit in 64 bits. */
static bool parse_int(const char *text, long long *out) {
    size_t len = 0;
    text = trim(text, &len);
    size_t i = text[0] == '+' || text[0] == '-' ? 1 : 0;
    if (i == len) {
        return false;
    }
    for (size_t j = i; j < len; j++) {
        if (text[j] < '0' || text[j] > '9') {
            return false;
        }
    }
    char *digits = strndup(text, len);
    if (!digits) {
        return false;
    }
    errno = 0;
    long long value = strtoll(digits, NULL, 10);
    bool ok = errno != ERANGE;
    free(digits);
    if (ok) {
        *out = value;
    }
    return ok;
}

/* form.<field>[0] of the event into *out (a malloc'd copy; "" when the form has none).
 * The library parses the event JSON: it goes in the state under a scratch key for one
 * lv_get_str and comes out again before the callback returns. */
static int form_field(lv_ctx *ctx, const char *event_json, const char *field, char **out) {
    char pointer[64];
    snprintf(pointer, sizeof pointer, "/_event/form/%s/0", field);
    TRY(lv_set(ctx, "/_event", event_json));
    const char *value = lv_get_str(ctx, pointer);
    char *copy = strdup(value ? value : "");
    if (!copy) {
        return lv_error(ctx, "out of memory");
    }
    if (lv_remove(ctx, "/_event") != LV_OK) {
        free(copy);
        return lv_error(ctx, lv_last_error());
    }
    *out = copy;
    return LV_OK;
}

/* Length in characters (Unicode code points) of a UTF-8 string. */
static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Removes the entries of the array at `pointer` from the front until at most `max` remain. */
static int keep_last(lv_ctx *ctx, const char *pointer, size_t max) {
    size_t n = 0;
    int rc = lv_len(ctx, pointer, &n);
    char first[64];
    snprintf(first, sizeof first, "%s/0", pointer);
    for (; rc == LV_OK && n > max; n--) {
        rc = lv_remove(ctx, first);
    }
    return rc;
}

/* ---- /counter (and /) ------------------------------------------------------------ */

static int counter_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    return lv_set_state(ctx, "{\"count\": 0, \"log\": []}");
}

/* count += delta, log "<name> <by> → <count>", mark stats and log. */
static int counter_change(lv_ctx *ctx, const char *name, long long by, long long delta) {
    int64_t count = 0;
    TRY(lv_get_int(ctx, "/count", &count));
    if ((delta > 0 && count > INT64_MAX - delta) || (delta < 0 && count < INT64_MIN - delta)) {
        return lv_error(ctx, "the count is out of range");
    }
    count += delta;
    char entry[128];
    snprintf(entry, sizeof entry, "%s %lld → %lld", name, by, (long long)count);
    TRY(lv_set_int(ctx, "/count", count));
    TRY(lv_set_str(ctx, "/log/-", entry));
    TRY(keep_last(ctx, "/log", LOG_MAX));
    TRY(lv_mark(ctx, "stats"));
    TRY(lv_mark(ctx, "log"));
    return LV_OK;
}

static int counter_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    const char *name = lv_event_name(ctx);
    if (strcmp(name, "inc") == 0 || strcmp(name, "dec") == 0) {
        /* by: 1 when absent; a value that is not an integer fails the event. */
        const char *by_text = lv_event_get(ctx, "by");
        long long by = 1;
        if (by_text != NULL && (!parse_int(by_text, &by) || by == INT64_MIN)) {
            return lv_error(ctx, "by is not an integer");
        }
        return counter_change(ctx, name, by, name[0] == 'i' ? by : -by);
    }
    if (strcmp(name, "slow") == 0) {
        struct timespec second = {1, 0};
        while (nanosleep(&second, &second) != 0 && errno == EINTR) {
        }
        return counter_change(ctx, "slow", 1, 1);
    }
    if (strcmp(name, "boom") == 0) {
        int64_t count = 0;
        TRY(lv_get_int(ctx, "/count", &count));
        TRY(lv_set_int(ctx, "/count", count <= INT64_MAX - 100 ? count + 100 : INT64_MAX));
        /* A failed callback keeps the state the session had before it: the +100 goes. */
        return lv_error(ctx, "boom: the detailed reason");
    }
    return lv_error(ctx, "unknown event");
}

/* ---- /form ----------------------------------------------------------------------- */

static int form_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    TRY(lv_set_state(ctx, "{\"name\": \"\", \"error\": \"\", \"validations\": 0, \"ticks\": 0, \"saved\": []}"));
    TRY(lv_send_after(ctx, TICK_MS, TICK, NULL));
    return LV_OK;
}

/* validate: counts the validation, stores the name and its error; true when it is valid. */
static int form_validate(lv_ctx *ctx, const char *name, bool *valid) {
    int64_t validations = 0;
    TRY(lv_get_int(ctx, "/validations", &validations));
    TRY(lv_set_int(ctx, "/validations", validations + 1));
    TRY(lv_set_str(ctx, "/name", name));
    size_t len = utf8_len(name);
    *valid = !(len > 0 && len < MIN_NAME);
    TRY(lv_set_str(ctx, "/error", *valid ? "" : NAME_ERROR));
    return LV_OK;
}

/* save: validates; a valid name goes to saved, with a flash, and the field empties. */
static int form_save(lv_ctx *ctx, const char *name) {
    bool valid = false;
    int rc = form_validate(ctx, name, &valid);
    if (rc != LV_OK || !valid) {
        return rc;
    }
    size_t need = strlen(name) + sizeof "Saved ";
    char *flash = malloc(need);
    if (!flash) {
        return lv_error(ctx, "out of memory");
    }
    snprintf(flash, need, "Saved %s", name);
    rc = lv_flash(ctx, "info", flash);
    free(flash);
    TRY(rc);
    TRY(lv_set_str(ctx, "/saved/-", name));
    TRY(lv_set_str(ctx, "/name", ""));
    return LV_OK;
}

static int form_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)user_data;
    const char *event = lv_event_name(ctx);
    bool save = strcmp(event, "save") == 0;
    if (save || strcmp(event, "validate") == 0) {
        char *name = NULL;
        int rc = form_field(ctx, event_json, "name", &name);
        if (rc != LV_OK) {
            return rc;
        }
        bool valid = false;
        rc = save ? form_save(ctx, name) : form_validate(ctx, name, &valid);
        free(name);
        if (rc != LV_OK) {
            return rc;
        }
        if (save) {
            TRY(lv_mark(ctx, "flash"));
        }
        TRY(lv_mark(ctx, "errors"));
        TRY(lv_mark(ctx, "count"));
        return LV_OK;
    }
    if (strcmp(event, "go-redirect") == 0) {
        TRY(lv_redirect(ctx, "/counter"));
        return LV_OK;
    }
    if (strcmp(event, "go-navigate") == 0) {
        TRY(lv_navigate(ctx, "/feed", 0)); /* push, not replace */
        return LV_OK;
    }
    return lv_error(ctx, "unknown event");
}

static int form_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)msg_json;
    (void)user_data;
    if (lv_info_topic(ctx) != NULL) {
        return LV_OK; /* only our timer */
    }
    int64_t ticks = 0;
    TRY(lv_get_int(ctx, "/ticks", &ticks));
    TRY(lv_set_int(ctx, "/ticks", ticks + 1));
    TRY(lv_mark(ctx, "clock"));
    TRY(lv_send_after(ctx, TICK_MS, TICK, NULL));
    return LV_OK;
}

/* ---- /feed ----------------------------------------------------------------------- */

static int feed_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    TRY(lv_set_state(ctx, "{\"items\": []}"));
    TRY(lv_subscribe(ctx, "feed"));
    return LV_OK;
}

static int no_events(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    return lv_error(ctx, "unknown event");
}

static int feed_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)user_data;
    const char *topic = lv_info_topic(ctx);
    if (topic == NULL || strcmp(topic, "feed") != 0) {
        return LV_OK;
    }
    /* Newest first: drop from the end down to ITEMS_MAX - 1, then "[msg,...rest]". */
    size_t n = 0;
    TRY(lv_len(ctx, "/items", &n));
    while (n >= ITEMS_MAX) {
        char last[32];
        snprintf(last, sizeof last, "/items/%zu", --n);
        TRY(lv_remove(ctx, last));
    }
    const char *items = lv_get(ctx, "/items");
    if (items == NULL) {
        return lv_error(ctx, lv_last_error());
    }
    size_t need = strlen(items) + strlen(msg_json) + 4;
    char *next = malloc(need);
    if (!next) {
        return lv_error(ctx, "out of memory");
    }
    snprintf(next, need, "[%s%s%s", msg_json, n == 0 ? "" : ",", strchr(items, '[') + 1);
    int rc = lv_set(ctx, "/items", next);
    free(next);
    TRY(rc);
    TRY(lv_mark(ctx, "items"));
    return LV_OK;
}

/* ---- /rooms/{room} --------------------------------------------------------------- */

/* "room:<room>" into buf; false when it does not fit. */
static bool room_topic(lv_ctx *ctx, char *buf, size_t len) {
    const char *room = lv_param(ctx, "room");
    if (room == NULL) {
        return false;
    }
    int n = snprintf(buf, len, "room:%s", room);
    return n >= 0 && (size_t)n < len;
}

static int room_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    const char *room = lv_param(ctx, "room");
    if (room == NULL) {
        return lv_error(ctx, "no room");
    }
    TRY(lv_set_state(ctx, "{\"room\": \"\", \"messages\": []}"));
    TRY(lv_set_str(ctx, "/room", room));
    char topic[512];
    if (!room_topic(ctx, topic, sizeof topic)) {
        return lv_error(ctx, "room name too long");
    }
    TRY(lv_subscribe(ctx, topic));
    return LV_OK;
}

static int room_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    lv_app *app = user_data;
    if (strcmp(lv_event_name(ctx), "send") != 0) {
        return lv_error(ctx, "unknown event");
    }
    char topic[512];
    if (!room_topic(ctx, topic, sizeof topic)) {
        return lv_error(ctx, "room name too long");
    }
    char *raw = NULL;
    int rc = form_field(ctx, event_json, "text", &raw);
    if (rc != LV_OK) {
        return rc;
    }
    size_t len = 0;
    const char *text = trim(raw, &len);
    if (len == 0) {
        free(raw);
        return LV_OK;
    }
    /* {"text": "<text>"}: at most 6 bytes per input byte (\u00XX) plus the frame. */
    char *msg = malloc(6 * len + 16);
    if (!msg) {
        free(raw);
        return lv_error(ctx, "out of memory");
    }
    char *out = msg + sprintf(msg, "{\"text\": \"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            out += sprintf(out, "\\u%04x", c);
        } else {
            *out++ = (char)c; /* UTF-8 passes through: the library hands out valid UTF-8 */
        }
    }
    strcpy(out, "\"}");
    free(raw);
    rc = lv_app_publish(app, topic, msg);
    free(msg);
    TRY(rc);
    return LV_OK; /* no mark: the message comes back through room_info */
}

static int room_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    (void)user_data;
    const char *topic = lv_info_topic(ctx);
    char mine[512];
    if (topic == NULL || !room_topic(ctx, mine, sizeof mine) || strcmp(topic, mine) != 0) {
        return LV_OK;
    }
    TRY(lv_set(ctx, "/messages/-", msg_json));
    TRY(keep_last(ctx, "/messages", MESSAGES_MAX));
    TRY(lv_mark(ctx, "messages"));
    return LV_OK;
}

/* ---- the publisher --------------------------------------------------------------- */

/* Set by stop_publisher under stop_lock; stop_cond wakes the publisher at once. */
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond;
static bool stopping = false;

static void add_ms(struct timespec *t, long ms) {
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Publishes {"n": N, "text": "item N"} (N = 1, 2, ...) on "feed" every FEED_MS until
 * stop_publisher. */
static void *publisher(void *arg) {
    lv_app *app = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&stop_lock);
    for (long long n = 1;; n++) {
        /* Fixed deadlines: the period does not drift with the time a publish takes. */
        add_ms(&next, FEED_MS);
        while (!stopping && pthread_cond_timedwait(&stop_cond, &stop_lock, &next) != ETIMEDOUT) {
        }
        if (stopping) {
            break;
        }
        pthread_mutex_unlock(&stop_lock);
        char msg[96];
        snprintf(msg, sizeof msg, "{\"n\": %lld, \"text\": \"item %lld\"}", n, n);
        if (lv_app_publish(app, "feed", msg) != LV_OK) {
            fprintf(stderr, "conformance: publishing on feed: %s\n", lv_last_error());
        }
        pthread_mutex_lock(&stop_lock);
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

static void stop_publisher(pthread_t thread) {
    pthread_mutex_lock(&stop_lock);
    stopping = true;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    pthread_join(thread, NULL);
}

/* ---- main ------------------------------------------------------------------------ */

/* The options document: views and dev, everything else default. */
static char *options_json(const char *views, bool dev) {
    /* Escape the path as a JSON string. */
    size_t len = strlen(views);
    char *opts = malloc(6 * len + 64);
    if (!opts) {
        return NULL;
    }
    char *out = opts + sprintf(opts, "{\"views\": \"");
    for (const unsigned char *c = (const unsigned char *)views; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *out++ = '\\';
            *out++ = (char)*c;
        } else if (*c < 0x20) {
            out += sprintf(out, "\\u%04x", *c);
        } else {
            *out++ = (char)*c;
        }
    }
    sprintf(out, "\", \"dev\": %s}", dev ? "true" : "false");
    return opts;
}

int main(void) {
    if (lv_abi_version() != LV_ABI_VERSION) {
        fprintf(stderr, "libmizulive ABI %u, built for %d\n", lv_abi_version(), LV_ABI_VERSION);
        return 1;
    }
    /* Block SIGINT/SIGTERM before the library (and the publisher) start their threads, so
     * they inherit the mask and the main thread alone receives them through sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&stop_cond, &attr);
    pthread_condattr_destroy(&attr);

    const char *views = getenv("MIZULIVE_VIEWS");
    const char *dev = getenv("MIZULIVE_DEV");
    char *options = options_json(views && *views ? views : CONFORMANCE_VIEWS, dev && strcmp(dev, "1") == 0);
    lv_app *app = options ? lv_app_new(options) : NULL;
    free(options);
    if (!app) {
        fprintf(stderr, "conformance: %s\n", lv_last_error());
        return 1;
    }
    lv_page counter = {
        .template = "counter/index",
        .regions = "{\"stats\": \"counter/stats\", \"log\": \"counter/log\"}",
        .on_mount = counter_mount,
        .on_event = counter_event,
    };
    lv_page form = {
        .template = "form/index",
        .regions = "{\"flash\": \"form/flash\", \"errors\": \"form/errors\", \"count\": \"form/count\", "
                   "\"clock\": \"form/clock\"}",
        .on_mount = form_mount,
        .on_event = form_event,
        .on_info = form_info,
    };
    lv_page feed = {
        .template = "feed/index",
        .regions = "{\"items\": \"feed/items\"}",
        .on_mount = feed_mount,
        .on_event = no_events,
        .on_info = feed_info,
    };
    lv_page room = {
        .template = "room/index",
        .regions = "{\"messages\": \"room/messages\"}",
        .on_mount = room_mount,
        .on_event = room_event,
        .on_info = room_info,
        .user_data = app, /* to publish; the app outlives every callback */
    };
    if (lv_app_register_page(app, "/counter", &counter) != LV_OK || lv_app_register_page(app, "/", &counter) != LV_OK ||
        lv_app_register_page(app, "/form", &form) != LV_OK || lv_app_register_page(app, "/feed", &feed) != LV_OK ||
        lv_app_register_page(app, "/rooms/{room}", &room) != LV_OK || lv_app_start(app, NULL) != LV_OK) {
        fprintf(stderr, "conformance: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    char addr[128];
    if (lv_app_local_addr(app, addr, sizeof addr) != LV_OK) {
        fprintf(stderr, "conformance: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, publisher, app) != 0) {
        fprintf(stderr, "conformance: cannot start the publisher\n");
        lv_app_free(app);
        return 1;
    }
    printf("conformance listening on http://%s/\n", addr);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    stop_publisher(thread); /* no publish races the shutdown */
    int rc = lv_app_shutdown(app);
    if (rc != LV_OK) {
        fprintf(stderr, "conformance: shutdown: %s\n", lv_last_error());
    }
    lv_app_free(app);
    return rc == LV_OK ? 0 : 1;
}
