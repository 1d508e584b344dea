/* What a host sees of failures in its logs, with dev mode off: every failed
 * callback (on_mount, on_event, on_info) is logged at warn with its message,
 * through lv_set_log_callback. Then, with the callback removed and the option
 * "log_format": "json", the library logs JSON lines to stderr, which
 * tests/c_abi.rs reads and checks line by line (time, level, message, session, route).
 *
 * Prints "N passed, M failed" and exits non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include <pthread.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char captured[65536];
static size_t captured_len;

static void capture(int level, const char *target, const char *message, void *user) {
    (void)target;
    (void)user;
    pthread_mutex_lock(&lock);
    int n = snprintf(captured + captured_len, sizeof captured - captured_len, "%d|%s\n", level, message);
    if (n > 0 && captured_len + (size_t)n < sizeof captured) captured_len += (size_t)n;
    pthread_mutex_unlock(&lock);
}

/* Waits at most 5 s for a captured record that contains both `a` and `b`. */
static int logged(const char *a, const char *b) {
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&lock);
        int found = 0;
        for (char *line = captured; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            size_t len = strcspn(line, "\n");
            char one[4096];
            snprintf(one, sizeof one, "%.*s", (int)len, line);
            if (strstr(one, a) && strstr(one, b)) found = 1;
        }
        pthread_mutex_unlock(&lock);
        if (found) return 1;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return 0;
}

static int on_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)user;
    if (strstr(params, "\"broken\"")) return lv_error(ctx, "mount went wrong: disk full");
    lv_subscribe(ctx, "news");
    return LV_OK;
}

static int on_event(lv_ctx *ctx, const char *event, void *user) {
    (void)event;
    (void)user;
    return lv_error(ctx, "the sky fell");
}

static int on_info(lv_ctx *ctx, const char *msg, void *user) {
    (void)msg;
    (void)user;
    return lv_error(ctx, "info broke");
}

static lv_app *app;

/* The browser cookie the last response set. */
static char set_cookie[256];

static int request(const char *method, const char *target, const char *cookie, const char *form, char *body,
                   size_t cap) {
    char headers[2048];
    snprintf(headers, sizeof headers, "Host: 127.0.0.1:9\r\n%s%s%s%s", cookie ? "Cookie: " : "",
             cookie ? cookie : "", cookie ? "\r\n" : "",
             form ? "Content-Type: application/x-www-form-urlencoded\r\n" : "");
    lv_http_request req = {.method = method, .target = target, .headers = headers, .headers_len = strlen(headers),
                           .body = (const uint8_t *)form, .body_len = form ? strlen(form) : 0};
    lv_response *resp = NULL;
    CHECK(lv_http(app, &req, &resp) == LV_OK);
    if (!resp) return 0;
    int status = lv_response_status(resp);
    size_t len = 0;
    const uint8_t *data = lv_response_body(resp, &len);
    if (body) snprintf(body, cap, "%.*s", (int)len, (const char *)data);
    const char *head = lv_response_headers(resp, &len);
    char all[4096];
    snprintf(all, sizeof all, "%.*s", (int)len, head);
    const char *at = strstr(all, "set-cookie: lv_bid=");
    if (at) snprintf(set_cookie, sizeof set_cookie, "%.*s", (int)strcspn(at + 12, ";\r"), at + 12);
    lv_response_free(resp);
    return status;
}

static void between(const char *text, const char *before, char end, char *out, size_t cap) {
    const char *at = strstr(text, before);
    out[0] = 0;
    if (!at) return;
    at += strlen(before);
    size_t i = 0;
    while (at[i] && at[i] != end && i + 1 < cap) {
        out[i] = at[i];
        i++;
    }
    out[i] = 0;
}

/* Loads /l/ok, posts a failing event to it, and publishes to its topic. */
static void fail_everything(void) {
    static char body[65536];
    CHECK(request("GET", "/l/broken", NULL, NULL, body, sizeof body) == 500);
    CHECK(request("GET", "/l/ok", NULL, NULL, body, sizeof body) == 200);
    char token[1024], csrf[128], form[2048];
    between(body, "name=\"_lv_token\" value=\"", '"', token, sizeof token);
    between(body, "name=\"_csrf\" value=\"", '"', csrf, sizeof csrf);
    snprintf(form, sizeof form, "_lv_token=%s&_csrf=%s&_lv_click=boom", token, csrf);
    char cookie[256];
    snprintf(cookie, sizeof cookie, "%s", set_cookie);
    CHECK(request("POST", "/l/ok", cookie, form, NULL, 0) == 303);
    CHECK(lv_app_publish(app, "news", "{\"n\": 1}") == LV_OK);
}

static lv_app *new_app(const char *extra) {
    char options[512];
    snprintf(options, sizeof options,
             "{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\", \"dev\": false%s}", extra);
    lv_app *a = lv_app_new(options);
    CHECK(a != NULL);
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event, .on_info = on_info};
    CHECK(lv_app_register_page(a, "/l/{kind}", &page) == LV_OK);
    return a;
}

int main(void) {
    CHECK(lv_set_log_callback(capture, NULL, NULL) == LV_OK);
    app = new_app("");
    fail_everything();
    /* Each failure at warn (2), with the callback's own message, session and route. */
    CHECK(logged("2|", "mount went wrong: disk full"));
    CHECK(logged("2|", "the sky fell"));
    CHECK(logged("2|", "info broke"));
    CHECK(logged("the sky fell", "route=/l/{kind}"));
    CHECK(logged("the sky fell", "session="));
    CHECK(logged("the sky fell", "event \"boom\""));
    CHECK(lv_app_shutdown(app) == LV_OK);
    lv_app_free(app);

    /* Back to stderr, as JSON lines. */
    CHECK(lv_set_log_callback(NULL, NULL, NULL) == LV_OK);
    CHECK(lv_app_new("{\"log_format\": \"yaml\"}") == NULL);
    CHECK(strstr(lv_last_error(), "log_format") && strstr(lv_last_error(), "\"json\""));
    app = new_app(", \"log_format\": \"json\"");
    fail_everything();
    CHECK(lv_app_shutdown(app) == LV_OK);
    lv_app_free(app);
    printf("logs: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
