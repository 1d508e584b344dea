/*
 * Exercises the C ABI as a C program sees it: NULLs, bad UTF-8, bad JSON, wrong
 * states, the callback context rules, the auth hook, drop functions, and events via
 * the no-JS form path (plain HTTP from C, no WebSocket needed).
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static atomic_int log_records, log_drops, log_warnings;

static lv_app *app;
static atomic_int drops;
static atomic_int mounts;
static lv_ctx *stale_ctx;
static lv_auth *stale_req;
static atomic_int in_callback_checks;
static atomic_int closes;
static atomic_int thread_exits, thread_exit_drops;

static void on_thread_exit(void *user) {
    CHECK(user == (void *)&thread_exits);
    atomic_fetch_add(&thread_exits, 1);
}

static void drop_thread_exit(void *user) {
    CHECK(user == (void *)&thread_exits);
    atomic_fetch_add(&thread_exit_drops, 1);
}

static void drop_user(void *user) {
    CHECK(user == (void *)&drops);
    atomic_fetch_add(&drops, 1);
}

static int on_mount(lv_ctx *ctx, const char *params_json, void *user) {
    CHECK(user == (void *)&drops);
    CHECK(strcmp(params_json, "{}") == 0);
    atomic_fetch_add(&mounts, 1);
    /* Bad JSON fails the call and leaves the state alone. */
    CHECK_ERR(lv_set_state(ctx, "{\"count\": "), LV_ERR_JSON, "invalid JSON");
    CHECK_ERR(lv_set_state(ctx, "[1, 2]"), LV_ERR_JSON, "must be a JSON object");
    CHECK_ERR(lv_set_state(ctx, "null"), LV_ERR_JSON, "not null");
    CHECK(strcmp(lv_get_state(ctx), "{}") == 0);
    CHECK(lv_set_state(ctx, "{\"count\": 0, \"log\": [], \"name\": \"x\"}") == LV_OK);

    int64_t n = -1;
    CHECK(lv_get_int(ctx, "/count", &n) == LV_OK && n == 0);
    CHECK_ERR(lv_get_int(ctx, "/name", &n), LV_ERR_JSON, "not an integer");
    CHECK_ERR(lv_get_int(ctx, "/missing", &n), LV_ERR_NOT_FOUND, "no value");
    CHECK_ERR(lv_get_int(ctx, NULL, &n), LV_ERR_NULL, "pointer is NULL");
    CHECK(lv_get_str(ctx, "/count") == NULL);
    CHECK(strcmp(lv_get_str(ctx, "/name"), "x") == 0);
    CHECK(lv_set_str(ctx, "/log/-", "a") == LV_OK && lv_set_str(ctx, "/log/-", "b") == LV_OK);
    size_t len = 0;
    CHECK(lv_len(ctx, "/log", &len) == LV_OK && len == 2);
    CHECK(lv_remove(ctx, "/log/0") == LV_OK);
    CHECK(strcmp(lv_get(ctx, "/log"), "[\"b\"]") == 0);
    CHECK_ERR(lv_set(ctx, "/count/deeper", "1"), LV_ERR_POINTER, "\"/count\" is a number, not an object or array");
    CHECK_ERR(lv_set(ctx, "/x", "nope"), LV_ERR_JSON, "invalid JSON");
    CHECK(lv_set_double(ctx, "/ratio", 0.5) == LV_OK);
    /* lv_last_error()'s own string may be passed straight back in: it is read before
     * the call replaces it (the examples do `return lv_error(ctx, lv_last_error());`). */
    CHECK(lv_get_int(ctx, "/nowhere", &n) == LV_ERR_NOT_FOUND);
    CHECK(lv_set_str(ctx, "/echo", lv_last_error()) == LV_OK);
    CHECK(lv_get_str(ctx, "/echo") && strcmp(lv_get_str(ctx, "/echo"), "not found: no value at \"/nowhere\"") == 0);
    CHECK(lv_remove(ctx, "/echo") == LV_OK);
    CHECK_ERR(lv_mark(ctx, "nope"), LV_ERR_NOT_FOUND, "no region");
    CHECK(lv_mark(ctx, "count") == LV_OK && lv_mark_all(ctx) == LV_OK);
    CHECK_ERR(lv_send_after(ctx, 10, "{oops", NULL), LV_ERR_JSON, "invalid JSON");
    uint64_t timer = 0;
    CHECK(lv_send_after(ctx, 60000, "{}", &timer) == LV_OK && timer > 0);
    CHECK(lv_cancel_timer(ctx, timer) == LV_OK);
    CHECK_ERR(lv_cancel_timer(ctx, timer), LV_ERR_NOT_FOUND, "no pending timer");
    CHECK(strlen(lv_session_id(ctx)) == 32);
    CHECK(strcmp(lv_params(ctx), "{}") == 0);
    CHECK(lv_user_id(ctx) != NULL && strcmp(lv_user_id(ctx), "alice") == 0);
    CHECK(lv_info_topic(ctx) == NULL);
    CHECK(lv_event_name(ctx) == NULL);
    /* Calls that would wait for the callback threads refuse to run here. */
    CHECK_ERR(lv_shutdown(app), LV_ERR_REENTRANT, "callback");
    CHECK_ERR(lv_wait(app, 0), LV_ERR_REENTRANT, "callback");
    CHECK(lv_publish(app, "nobody", "{\"ok\": true}") == LV_OK);
    stale_ctx = ctx;
    atomic_fetch_add(&in_callback_checks, 1);
    return LV_OK;
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)user;
    CHECK(strstr(event_json, "\"type\":\"click\"") != NULL);
    int64_t count = 0;
    lv_get_int(ctx, "/count", &count);
    const char *by = lv_event_get(ctx, "by");
    CHECK(by != NULL);
    lv_set_int(ctx, "/count", count + (by ? atoi(by) : 0));
    lv_mark(ctx, "count");
    if (strcmp(lv_event_name(ctx), "fail") == 0) {
        lv_set_state(ctx, "{oops"); /* leaves "invalid JSON: ..." as the last error */
        return lv_error(ctx, lv_last_error());
    }
    return LV_OK;
}

static void on_close(lv_ctx *ctx, const char *reason, void *user) {
    (void)user;
    CHECK(strcmp(reason, "shutdown") == 0);
    int64_t count = -1;
    CHECK(lv_get_int(ctx, "/count", &count) == LV_OK && count == 4);
    CHECK(lv_publish(app, "goodbye", "{}") == LV_OK);
    atomic_fetch_add(&closes, 1);
}

/* A browser's id cookie, as the first page GET would set it: the id, signed with this
 * app's secret (token.rs pins the value). */
#define BROWSER "lv_bid=0123456789abcdef0123456789abcdef.-A697zMVFYhagKzWPEmZPw"

static int auth(lv_auth *req, const char *request_json, void *user) {
    (void)user;
    stale_req = req;
    if (strstr(request_json, "\"deny\"")) {
        return LV_ERR_CALLBACK;
    }
    if (strstr(request_json, "\"path\":\"/private\"")) {
        return lv_auth_redirect(req, "/login");
    }
    return lv_auth_set_user(req, "alice");
}

static void on_log(int level, const char *target, const char *message, void *user) {
    (void)user;
    if (level == 2 && strstr(message, "secret") && strstr(target, "mizulive")) {
        atomic_fetch_add(&log_warnings, 1);
    }
    atomic_fetch_add(&log_records, 1);
}

static void drop_log(void *user) {
    (void)user;
    atomic_fetch_add(&log_drops, 1);
}

/* Minimal HTTP/1.1 client: one request, whole response into buf. */
static void http(const char *addr, const char *request, char *buf, size_t len) {
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(2);
    }
    size_t sent = 0, total = strlen(request);
    while (sent < total) {
        ssize_t n = write(fd, request + sent, total - sent);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    close(fd);
}

/* Copies the value of `name="<field>" value="..."` from html into out. */
static void field(const char *html, const char *name, char *out, size_t len) {
    char needle[64];
    snprintf(needle, sizeof needle, "name=\"%s\" value=\"", name);
    const char *at = strstr(html, needle);
    out[0] = 0;
    if (!at) return;
    at += strlen(needle);
    size_t i = 0;
    while (at[i] && at[i] != '"' && i + 1 < len) {
        out[i] = at[i];
        i++;
    }
    out[i] = 0;
}

int main(void) {
    static char page_buf[65536], resp[65536], req[8192];
    CHECK(lv_abi_version() == LV_ABI_VERSION);
    /* The status codes are a typed enum whose constants are plain ints. */
    lv_status busy = LV_ERR_BUSY;
    int as_int = busy;
    CHECK(as_int == 14 && LV_OK == 0 && LV_ERR_PANIC == 99);

    /* Logs reach a host callback, on a library thread; removing it drops user_data. */
    CHECK(lv_set_log_callback(on_log, &log_records, drop_log) == LV_OK);
    lv_app *unsigned_app = lv_app_new("{\"views\": \"views\"}"); /* warns: no secret */
    CHECK(unsigned_app != NULL);
    lv_app_free(unsigned_app);
    for (int i = 0; i < 500 && atomic_load(&log_warnings) == 0; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    CHECK(atomic_load(&log_warnings) == 1);
    CHECK(lv_set_log_callback(NULL, NULL, NULL) == LV_OK);
    for (int i = 0; i < 500 && atomic_load(&log_drops) == 0; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    CHECK(atomic_load(&log_drops) == 1);
    CHECK(strlen(lv_version()) > 0);

    /* Options. */
    CHECK(lv_app_new("{\"views\": ") == NULL && strstr(lv_last_error(), "invalid options"));
    CHECK(lv_app_new("{\"colour\": 1}") == NULL && strstr(lv_last_error(), "unknown field"));
    CHECK(lv_app_new("{\"views\": \"/no/such/dir\"}") == NULL && strstr(lv_last_error(), "does not exist"));
    CHECK(lv_app_new("{\"views\": \"views\", \"secret\": \"short\"}") == NULL && strstr(lv_last_error(), "32 bytes"));

    app = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\"}");
    CHECK(app != NULL);
    CHECK(strcmp(lv_last_error(), "") == 0);

    /* Registration. */
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event, .on_close = on_close, .user_data = &drops, .drop = drop_user};
    CHECK_ERR(lv_register_page(NULL, "/abi", &page), LV_ERR_NULL, "app is NULL");
    CHECK_ERR(lv_register_page(app, NULL, &page), LV_ERR_NULL, "route is NULL");
    CHECK_ERR(lv_register_page(app, "/abi", NULL), LV_ERR_NULL, "page is NULL");
    CHECK_ERR(lv_register_page(app, "\xff\xfe", &page), LV_ERR_UTF8, "UTF-8");
    CHECK_ERR(lv_register_page(app, "abi", &page), LV_ERR_PAGE, "must start with '/'");
    lv_page bad = page;
    bad.template = NULL;
    CHECK_ERR(lv_register_page(app, "/abi", &bad), LV_ERR_NULL, "page->template");
    bad.template = "missing";
    CHECK_ERR(lv_register_page(app, "/abi", &bad), LV_ERR_TEMPLATE, "missing");
    bad = page;
    bad.regions = "[1]";
    CHECK_ERR(lv_register_page(app, "/abi", &bad), LV_ERR_PAGE, "regions");
    bad = page;
    bad.on_event = NULL;
    CHECK_ERR(lv_register_page(app, "/abi", &bad), LV_ERR_PAGE, "on_event");
    /* A region whose id no element of the page carries is refused, naming both. */
    bad = page;
    bad.regions = "{\"count\": \"count\", \"log\": \"count\"}";
    CHECK_ERR(lv_register_page(app, "/abi", &bad), LV_ERR_PAGE,
              "region \"log\" has no element with id=\"log\" in pages/abi.html");
    /* The page template named as its file is the same page. */
    bad = page;
    bad.template = "pages/abi.html";
    bad.regions = "{\"count\": \"partials/count.html\"}";
    bad.user_data = NULL;
    bad.drop = NULL;
    CHECK(lv_register_page(app, "/abi-file-names", &bad) == LV_OK);
    CHECK(atomic_load(&drops) == 0); /* failed registrations keep user_data the caller's */
    CHECK(lv_register_page(app, "/abi", &page) == LV_OK);
    CHECK(lv_register_page(app, "/private", &page) == LV_OK);
    CHECK_ERR(lv_register_page(app, "/abi", &page), LV_ERR_PAGE, "/abi");
    CHECK(lv_app_set_auth(app, auth, NULL, NULL) == LV_OK);
    /* Each of the 4 host threads says goodbye once, at shutdown. */
    CHECK_ERR(lv_app_set_thread_exit(NULL, on_thread_exit, NULL, NULL), LV_ERR_NULL, "app is NULL");
    CHECK(lv_app_set_thread_exit(app, on_thread_exit, &thread_exits, drop_thread_exit) == LV_OK);

    /* App calls. */
    char addr[64];
    CHECK_ERR(lv_local_addr(app, addr, sizeof addr), LV_ERR_STATE, "not started");
    CHECK_ERR(lv_publish(app, "t", "{bad"), LV_ERR_JSON, "invalid JSON");
    /* The failed call's message as the next call's argument (a route, which the
     * error quotes back): the library reads it before replacing it. */
    char quoted[512];
    snprintf(quoted, sizeof quoted, "route \"%s\" must start", lv_last_error());
    CHECK_ERR(lv_register_page(app, lv_last_error(), &page), LV_ERR_PAGE, quoted);
    CHECK_ERR(lv_publish(app, "t", lv_last_error()), LV_ERR_JSON, "invalid JSON");
    CHECK_ERR(lv_publish(app, NULL, "{}"), LV_ERR_NULL, "topic is NULL");
    CHECK_ERR(lv_start(app, "999.1.1.1:80"), LV_ERR_IO, "bind");
    CHECK(lv_start(app, "127.0.0.1:0") == LV_OK);
    CHECK_ERR(lv_start(app, "127.0.0.1:0"), LV_ERR_STATE, "already running");
    char tiny[4];
    CHECK_ERR(lv_local_addr(app, tiny, sizeof tiny), LV_ERR_BUFFER, "too small");
    CHECK(lv_local_addr(app, addr, sizeof addr) == LV_OK);
    CHECK_ERR(lv_wait(app, 10), LV_ERR_TIMEOUT, "");
    char *html = NULL;
    CHECK(lv_render(app, "partials/count.html", "{\"state\": {\"count\": 7}}", &html) == LV_OK);
    CHECK(html && strcmp(html, "<b>7</b>") == 0);
    lv_string_free(html);
    CHECK_ERR(lv_render(app, "partials/none.html", "{}", &html), LV_ERR_TEMPLATE, "none.html");
    CHECK_ERR(lv_render(app, "partials/count.html", "{", &html), LV_ERR_JSON, "invalid JSON");
    lv_string_free(NULL);
    lv_app_free(NULL);

    /* The auth hook: a user id, a refusal, a redirect. */
    snprintf(req, sizeof req, "GET /abi HTTP/1.1\r\nHost: %s\r\nCookie: deny=1\r\nConnection: close\r\n\r\n", addr);
    http(addr, req, resp, sizeof resp);
    CHECK(strncmp(resp, "HTTP/1.1 403", 12) == 0);
    snprintf(req, sizeof req, "GET /private HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr);
    http(addr, req, resp, sizeof resp);
    CHECK(strncmp(resp, "HTTP/1.1 303", 12) == 0 && strstr(resp, "location: /login"));

    /* Tokens are bound to the browser cookie: every request of this "browser" carries it. */
    snprintf(req, sizeof req, "GET /abi HTTP/1.1\r\nHost: %s\r\nCookie: " BROWSER "\r\nConnection: close\r\n\r\n",
             addr);
    http(addr, req, page_buf, sizeof page_buf);
    CHECK(strncmp(page_buf, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(page_buf, "<p id=\"user\">alice</p>") != NULL);
    CHECK(strstr(page_buf, "<b>0</b>") != NULL);
    CHECK(atomic_load(&mounts) == 1 && atomic_load(&in_callback_checks) == 1);

    /* Nor does an auth request: after its hook returned it is refused, not written. */
    CHECK_ERR(lv_auth_set_user(stale_req, "mallory"), LV_ERR_STATE, "outside its auth hook");
    CHECK_ERR(lv_auth_redirect(stale_req, "/elsewhere"), LV_ERR_STATE, "outside its auth hook");
    CHECK_ERR(lv_auth_set_user(NULL, "mallory"), LV_ERR_NULL, "req is NULL");

    /* A context outlives nothing: using it after its callback is refused. */
    CHECK_ERR(lv_mark(stale_ctx, "count"), LV_ERR_STATE, "outside its callback");
    CHECK(lv_get_state(stale_ctx) == NULL);
    CHECK_ERR(lv_mark(NULL, "count"), LV_ERR_NULL, "ctx is NULL");

    /* Events through the no-JS form path; a failing event changes nothing. */
    char token[1024], csrf[128], body[2048], cookie[1200];
    field(page_buf, "_lv_token", token, sizeof token);
    field(page_buf, "_csrf", csrf, sizeof csrf);
    const char *events[] = {"inc%3Fby%3D2", "fail%3Fby%3D5", "inc%3Fby%3D2"};
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "_lv_token=%s&_csrf=%s&_lv_click=%s", token, csrf, events[i]);
        snprintf(req, sizeof req,
                 "POST /abi HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 "Cookie: " BROWSER "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 addr, strlen(body), body);
        http(addr, req, resp, sizeof resp);
        CHECK(strncmp(resp, "HTTP/1.1 303", 12) == 0);
    }
    const char *set = strstr(resp, "set-cookie: ");
    CHECK(set != NULL);
    if (set) {
        size_t n = strcspn(set + 12, ";\r");
        snprintf(cookie, sizeof cookie, "%.*s", (int)n, set + 12);
    }
    snprintf(req, sizeof req, "GET /abi HTTP/1.1\r\nHost: %s\r\nCookie: %s; " BROWSER "\r\nConnection: close\r\n\r\n",
             addr, cookie);
    http(addr, req, page_buf, sizeof page_buf);
    CHECK(strstr(page_buf, "<b>4</b>") != NULL); /* 0 + 2 + (failed 5, rolled back) + 2 */
    CHECK(atomic_load(&mounts) == 1);

    /* Shutdown releases each registered page's user_data exactly once. */
    CHECK(atomic_load(&thread_exits) == 0);
    CHECK(lv_shutdown(app) == LV_OK);
    CHECK(atomic_load(&closes) == 1); /* the one session, told why it ends */
    CHECK(atomic_load(&drops) == 2);
    CHECK(atomic_load(&thread_exits) == 4);
    CHECK(lv_shutdown(app) == LV_OK);
    CHECK(lv_wait(app, 0) == LV_OK);
    CHECK(atomic_load(&thread_exit_drops) == 0);
    lv_app_free(app);
    CHECK(atomic_load(&drops) == 2);
    CHECK(atomic_load(&thread_exits) == 4 && atomic_load(&thread_exit_drops) == 1);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
