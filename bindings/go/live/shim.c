#include "shim.h"

#include <string.h>
#include <time.h>

#include "_cgo_export.h"

/* How often a busy library thread's callback yields to Go's scheduler, and how
 * recent its last callback must be for the thread to count as busy (see yield_due). */
#define YIELD_EVERY_NS 4000000LL
#define BUSY_WITHIN_NS 1000000LL

/* Whether the callback about to run on this thread should yield once to Go's
 * scheduler (runtime.Gosched): at most every YIELD_EVERY_NS, and only while the
 * thread is busy (its last callback began less than BUSY_WITHIN_NS ago).
 *
 * A library thread keeps a Go processor between its callbacks, the way Go sees a
 * thread back in C. Go's monitor takes a processor back from a thread in C as soon as
 * it sees no goroutine scheduled on it for 10 ms, and a callback's goroutine is never
 * scheduled: without the yield, the monitor took the processor back after every
 * callback once the thread had been busy for 10 ms, waking itself and another thread
 * to do it (context switches that cost the Go host a tenth of its CPU under load). A
 * yield schedules the goroutine; the processor then stays with the thread while it
 * keeps calling in, as long as another one is idle (New raises GOMAXPROCS by one).
 * A thread that is not busy does not yield: the yield would delay its callback, and
 * the processor it left idle has been taken back anyway. */
static int yield_due(void) {
    static _Thread_local long long called_ns, yielded_ns;
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
        return 0;
    }
    long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    int busy = ns - called_ns < BUSY_WITHIN_NS;
    called_ns = ns;
    if (!busy || ns - yielded_ns < YIELD_EVERY_NS) {
        return 0;
    }
    yielded_ns = ns;
    return 1;
}

/* The session's kept state as Go reads it: its handle shifted left by one, with the
 * low bit set when it is fresh; 0 when none is kept. */
static uintptr_t state_cache(lv_ctx *ctx) {
    int fresh = 0;
    uintptr_t handle = (uintptr_t)lv_state_cache(ctx, &fresh);
    return handle == 0 ? 0 : handle << 1 | (fresh != 0);
}

static int on_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    return goLvMount(ctx, (char *)params_json, (uintptr_t)user_data, yield_due());
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    return goLvEvent(ctx, (char *)event_json, (uintptr_t)user_data, state_cache(ctx), yield_due());
}

static int on_info(lv_ctx *ctx, const char *msg_json, void *user_data) {
    return goLvInfo(ctx, (char *)msg_json, (uintptr_t)user_data, state_cache(ctx), yield_due());
}

static void on_close(lv_ctx *ctx, const char *reason, void *user_data) {
    goLvClose(ctx, (char *)reason, (uintptr_t)user_data, state_cache(ctx));
}

static int on_auth(lv_auth *req, const char *request_json, void *user_data) {
    return goLvAuth(req, (char *)request_json, (uintptr_t)user_data);
}

static void on_log(int level, const char *target, const char *message, void *user_data) {
    goLvLog(level, (char *)target, (char *)message, (uintptr_t)user_data);
}

static void on_drop(void *user_data) {
    goLvDrop((uintptr_t)user_data);
}

int lvgo_register_page(lv_app *app, const char *route, const char *tmpl, const char *regions,
                       const char *layout, int with_close, uintptr_t handle) {
    lv_page page = {
        .template = tmpl,
        .regions = regions,
        .layout = layout,
        .on_mount = on_mount,
        .on_event = on_event,
        .on_info = on_info,
        .on_close = with_close ? on_close : NULL,
        .user_data = (void *)handle,
        .drop = on_drop,
    };
    return lv_app_register_page(app, route, &page);
}

int lvgo_set_state_cache(lv_ctx *ctx, uintptr_t handle) {
    return lv_set_state_cache(ctx, (void *)handle, on_drop);
}

_Static_assert(LV_ERR_PANIC < 256, "a status fits below lvgo_commit's step");

/* lv_mark with the `len` bytes at `id`, which have no NUL after them. */
static int mark_n(lv_ctx *ctx, const char *id, size_t len) {
    char small[128];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (copy == NULL) {
        abort(); /* as Go's C.CString does when C's malloc fails */
    }
    memcpy(copy, id, len);
    copy[len] = '\0';
    int rc = lv_mark(ctx, copy);
    if (copy != small) {
        free(copy);
    }
    return rc;
}

int lvgo_commit(lv_ctx *ctx, const char *state, int mark_all, const char *marks, size_t marks_len,
                size_t n, uintptr_t cache) {
    int rc;
    if (state != NULL && (rc = lv_set_state(ctx, state)) != LV_OK) {
        return rc | LVGO_STATE << 8;
    }
    if (mark_all && (rc = lv_mark_all(ctx)) != LV_OK) {
        return rc | LVGO_MARK_ALL << 8;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rest = at < marks_len ? marks_len - at : 0;
        const char *id = rest > 0 ? marks + at : "";
        const char *sep = rest > 0 ? memchr(id, '\0', rest) : NULL;
        size_t len = sep != NULL ? (size_t)(sep - id) : rest;
        if ((rc = mark_n(ctx, id, len)) != LV_OK) {
            return rc | LVGO_MARK << 8;
        }
        at += len + 1;
    }
    if (cache != 0 && (rc = lvgo_set_state_cache(ctx, cache)) != LV_OK) {
        return rc | LVGO_CACHE << 8;
    }
    return LV_OK;
}

int lvgo_set_auth(lv_app *app, uintptr_t handle) {
    return lv_app_set_auth(app, on_auth, (void *)handle, on_drop);
}

int lvgo_set_log(uintptr_t handle) {
    return lv_set_log_callback(on_log, (void *)handle, on_drop);
}

static lv_http_request http_request(const char *method, const char *target, const char *headers,
                                    size_t headers_len, const uint8_t *body, size_t body_len) {
    lv_http_request req = {
        .method = method,
        .target = target,
        .headers = headers,
        .headers_len = headers_len,
        .body = body,
        .body_len = body_len,
    };
    return req;
}

int lvgo_http(lv_app *app, const char *method, const char *target, const char *headers,
              size_t headers_len, const uint8_t *body, size_t body_len, lv_response **out) {
    lv_http_request req = http_request(method, target, headers, headers_len, body, body_len);
    return lv_http(app, &req, out);
}

int lvgo_ws_adopt(lv_app *app, const char *method, const char *target, const char *headers,
                  size_t headers_len, int fd, const uint8_t *pending, size_t pending_len) {
    lv_http_request req = http_request(method, target, headers, headers_len, NULL, 0);
    return lv_ws_adopt(app, &req, fd, pending, pending_len);
}

int lvgo_ws_open(lv_app *app, const char *method, const char *target, const char *headers,
                 size_t headers_len, uint64_t tag, lv_ws **ws, lv_response **refusal) {
    lv_http_request req = http_request(method, target, headers, headers_len, NULL, 0);
    return lv_ws_open(app, &req, tag, ws, refusal);
}
