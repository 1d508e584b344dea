/* The C conveniences: the lv_app_* names beside their deprecated aliases, lv_errstr, booleans, building pointers (lv_pointer_append),
 * byte lengths, pointer errors that name the pointer, and every part of an event
 * (type, target, field, key, raw JSON, each value of a repeated form field), read
 * from a no-JS POST and from a live event over a frame-carried WebSocket. Requests
 * go through lv_http and lv_ws_open: no port is opened.
 *
 * Prints "N passed, M failed" and exits non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include <time.h>

static lv_app *app;
/* How many on_event calls ran their checks to the end. */
static int events_seen;

#define STR_EQ(a, b) ((a) != NULL && strcmp((a), (b)) == 0)

/* State helpers: booleans, byte lengths, pointer errors. Run in on_mount. */
static void state_checks(lv_ctx *ctx) {
    int b = -1;
    CHECK(lv_set_bool(ctx, "/open", 7) == LV_OK);
    CHECK(lv_get_bool(ctx, "/open", &b) == LV_OK && b == 1);
    CHECK(lv_set_bool(ctx, "/open", 0) == LV_OK);
    CHECK(lv_get_bool(ctx, "/open", &b) == LV_OK && b == 0);
    CHECK(STR_EQ(lv_get(ctx, "/open"), "false"));
    CHECK(lv_set_int(ctx, "/count", 1) == LV_OK);
    b = 42;
    CHECK_ERR(lv_get_bool(ctx, "/count", &b), LV_ERR_JSON, "not a boolean");
    CHECK(b == 42); /* written only on success */
    CHECK_ERR(lv_get_bool(ctx, "/nope", &b), LV_ERR_NOT_FOUND, "no value at \"/nope\"");
    CHECK_ERR(lv_get_bool(ctx, "/open", NULL), LV_ERR_NULL, "out is NULL");
    CHECK(lv_set_bool(NULL, "/open", 1) == LV_ERR_NULL);

    /* lv_len: bytes for a string (as strlen of lv_get_str), items, keys. */
    size_t n = 0;
    CHECK(lv_set_str(ctx, "/word", "\xc3\xa9t\xc3\xa9") == LV_OK); /* "été" */
    CHECK(lv_len(ctx, "/word", &n) == LV_OK && n == 5 && n == strlen(lv_get_str(ctx, "/word")));
    CHECK(lv_set(ctx, "/log", "[\"a\", \"b\", \"c\"]") == LV_OK);
    CHECK(lv_len(ctx, "/log", &n) == LV_OK && n == 3);
    CHECK(lv_len(ctx, "", &n) == LV_OK && n == 4); /* open, count, word, log */
    CHECK_ERR(lv_len(ctx, "/count", &n), LV_ERR_JSON, "has no length");

    /* A misspelt pointer is its own error, naming the fix, not "invalid JSON". */
    int64_t i = 0;
    CHECK_ERR(lv_set_int(ctx, "count", 2), LV_ERR_POINTER,
              "bad state pointer \"count\": a pointer starts with \"/\" (write \"/count\")");
    CHECK(strstr(lv_last_error(), "invalid JSON") == NULL);
    CHECK_ERR(lv_get_int(ctx, "count", &i), LV_ERR_POINTER, "(write \"/count\")");
    CHECK(lv_get(ctx, "count") == NULL && strstr(lv_last_error(), "write \"/count\""));
    CHECK(lv_get_str(ctx, "word") == NULL && strstr(lv_last_error(), "write \"/word\""));
    CHECK_ERR(lv_len(ctx, "log", &n), LV_ERR_POINTER, "write \"/log\"");
    CHECK_ERR(lv_remove(ctx, "log"), LV_ERR_POINTER, "write \"/log\"");
    CHECK_ERR(lv_set_str(ctx, "/a~2b", "x"), LV_ERR_POINTER, "\"~\" must be followed by 0 or 1");
    /* Through a value that is not a container, or past an array's end. */
    CHECK_ERR(lv_set_int(ctx, "/count/x", 1), LV_ERR_POINTER, "\"/count\" is a number, not an object or array");
    CHECK_ERR(lv_get_int(ctx, "/count/x", &i), LV_ERR_NOT_FOUND, "no value at \"/count/x\": \"/count\" is a number");
    CHECK_ERR(lv_set_str(ctx, "/log/5", "x"), LV_ERR_POINTER, "index 5 is past the end of \"/log\", which has 3 items");
    CHECK_ERR(lv_set_str(ctx, "/log/x", "x"), LV_ERR_POINTER, "is not an index");
    CHECK_ERR(lv_set(ctx, "/count", "{bad"), LV_ERR_JSON, "invalid JSON");
    CHECK(lv_get_int(ctx, "/count", &i) == LV_OK && i == 1); /* unchanged by the failures */

    /* Pointers built with lv_pointer_append: a key with "/" and "~" stays one key. */
    char p[32] = "";
    CHECK(lv_pointer_append(p, sizeof p, "boards") == LV_OK && STR_EQ(p, "/boards"));
    CHECK(lv_pointer_append(p, sizeof p, "a/b~c") == LV_OK && STR_EQ(p, "/boards/a~1b~0c"));
    CHECK(lv_set_int(ctx, p, 9) == LV_OK);
    CHECK(strstr(lv_get(ctx, "/boards"), "\"a/b~c\":9") != NULL);
    char small[10] = "/boards";
    CHECK_ERR(lv_pointer_append(small, sizeof small, "xyz"), LV_ERR_BUFFER, "too small");
    CHECK(STR_EQ(small, "/boards")); /* unchanged */
    CHECK(lv_pointer_append(small, sizeof small, "x") == LV_OK && STR_EQ(small, "/boards/x"));
    char full[4] = {'a', 'b', 'c', 'd'};
    CHECK_ERR(lv_pointer_append(full, sizeof full, "x"), LV_ERR_BUFFER, "no NUL");
    CHECK_ERR(lv_pointer_append(NULL, 8, "x"), LV_ERR_NULL, "buf is NULL");
    CHECK_ERR(lv_pointer_append(p, sizeof p, NULL), LV_ERR_NULL, "token is NULL");
    char idx[32];
    CHECK(snprintf(idx, sizeof idx, "/log/%zu", (size_t)1) < (int)sizeof idx);
    CHECK(STR_EQ(lv_get_str(ctx, idx), "b"));
    CHECK(lv_set_state(ctx, "{\"count\": 0}") == LV_OK);
}

static int on_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    (void)user;
    state_checks(ctx);
    /* Event accessors outside on_event. */
    size_t n = 9;
    CHECK(lv_event_type(ctx) == NULL && lv_event_json(ctx) == NULL && lv_event_key(ctx) == NULL);
    CHECK_ERR(lv_event_count(ctx, "sel", &n), LV_ERR_STATE, "outside on_event");
    CHECK(n == 9);
    CHECK(lv_event_get_at(ctx, "sel", 0) == NULL && strstr(lv_last_error(), "outside on_event"));
    return LV_OK;
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)user;
    const char *name = lv_event_name(ctx);
    const char *json = lv_event_json(ctx);
    CHECK(STR_EQ(json, event_json));
    size_t n = 0;
    if (STR_EQ(name, "save")) {
        /* A no-JS form POST: sel=a&sel=b&title=x */
        CHECK(STR_EQ(lv_event_type(ctx), "submit"));
        CHECK(lv_event_target(ctx) == NULL && lv_event_field(ctx) == NULL && lv_event_key(ctx) == NULL);
        CHECK(lv_event_count(ctx, "sel", &n) == LV_OK && n == 2);
        CHECK(STR_EQ(lv_event_get_at(ctx, "sel", 0), "a"));
        CHECK(STR_EQ(lv_event_get_at(ctx, "sel", 1), "b"));
        CHECK(lv_event_get_at(ctx, "sel", 2) == NULL && strstr(lv_last_error(), "has 2 values named \"sel\""));
        CHECK(STR_EQ(lv_event_get(ctx, "sel"), "a"));
        CHECK(lv_event_count(ctx, "title", &n) == LV_OK && n == 1);
        CHECK(lv_event_count(ctx, "none", &n) == LV_OK && n == 0);
        CHECK_ERR(lv_event_count(ctx, "sel", NULL), LV_ERR_NULL, "out is NULL");
        CHECK_ERR(lv_event_count(ctx, NULL, &n), LV_ERR_NULL, "key is NULL");
        events_seen++;
    } else if (STR_EQ(name, "pick")) {
        /* A live keyup with a target, a changed field, a value and a repeated field. */
        CHECK(STR_EQ(lv_event_type(ctx), "keyup"));
        CHECK(STR_EQ(lv_event_key(ctx), "Enter"));
        /* A NUL in a text the event holds reaches C as U+FFFD, not as its end. */
        CHECK(STR_EQ(lv_event_target(ctx), "#l\xef\xbf\xbdist"));
        CHECK(STR_EQ(lv_event_field(ctx), "sel"));
        CHECK(json && strstr(json, "\"sel\":[\"x\",\"y\",\"z\"]"));
        /* The data-lv-value-* of the name first, then the form's values. */
        CHECK(lv_event_count(ctx, "sel", &n) == LV_OK && n == 4);
        CHECK(STR_EQ(lv_event_get_at(ctx, "sel", 0), "v"));
        CHECK(STR_EQ(lv_event_get_at(ctx, "sel", 0), lv_event_get(ctx, "sel")));
        CHECK(STR_EQ(lv_event_get_at(ctx, "sel", 3), "z"));
        events_seen++;
    }
    return LV_OK;
}

/* A mount that answers a status or redirects, by the route's {name}. A join that
 * mounts afresh (on `second`) sees "flaky" fail. */
static int mounts_on_second;
static int status_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    const char *name = lv_param(ctx, "name");
    int second = user != NULL;
    if (second) mounts_on_second++;
    CHECK_ERR(lv_set_status(ctx, 42), LV_ERR_STATE, "200 to 599");
    CHECK_ERR(lv_set_status(ctx, 600), LV_ERR_STATE, "200 to 599");
    CHECK(lv_set_status(NULL, 404) == LV_ERR_NULL && lv_not_found(NULL) == LV_ERR_NULL);
    CHECK(lv_set_int(ctx, "/count", 3) == LV_OK);
    if (STR_EQ(name, "missing") || (second && STR_EQ(name, "flaky"))) return lv_not_found(ctx);
    if (STR_EQ(name, "gone")) {
        CHECK(lv_set_status(ctx, 410) == LV_OK);
        return lv_error(ctx, "the board was archived");
    }
    if (STR_EQ(name, "soft")) CHECK(lv_set_status(ctx, 404) == LV_OK);
    if (STR_EQ(name, "moved") || (second && STR_EQ(name, "away"))) CHECK(lv_redirect(ctx, "/s/soft") == LV_OK);
    if (STR_EQ(name, "perm")) {
        CHECK(lv_set_status(ctx, 301) == LV_OK);
        CHECK(lv_redirect(ctx, "/s/new") == LV_OK);
    }
    return LV_OK;
}

static int status_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)event_json;
    (void)user;
    CHECK_ERR(lv_set_status(ctx, 404), LV_ERR_STATE, "only be set in mount");
    CHECK_ERR(lv_not_found(ctx), LV_ERR_STATE, "only be set in mount");
    events_seen++;
    return LV_OK;
}

/* Sends one request through lv_http; the status, and the body and headers in
 * `body`/`head` when given. */
static int request(const char *method, const char *target, const char *extra, const char *form, char *body,
                   size_t cap, char *head, size_t head_cap) {
    char headers[2048];
    snprintf(headers, sizeof headers, "Host: 127.0.0.1:9\r\n%s%s", extra ? extra : "",
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
    const char *h = lv_response_headers(resp, &len);
    if (head) snprintf(head, head_cap, "%.*s", (int)len, h);
    lv_response_free(resp);
    return status;
}

/* Copies what follows `before` in `text` up to `end` into `out`. */
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

static int frame_has(const lv_ws_frame *f, const char *needle) {
    char text[8192];
    snprintf(text, sizeof text, "%.*s", (int)f->len, (const char *)f->data);
    return strstr(text, needle) != NULL;
}

/* Waits (at most 5 s per frame) for a frame of socket `tag` containing `needle`. */
static int await_frame(uint64_t tag, const char *needle) {
    lv_ws_frame f;
    for (int i = 0; i < 20; i++) {
        if (lv_ws_next(app, 5000, &f) != LV_OK) return 0;
        if (f.tag == tag && frame_has(&f, needle)) return 1;
    }
    return 0;
}

static void errstr_checks(void) {
    const int codes[] = {LV_OK, LV_ERR_NULL, LV_ERR_UTF8, LV_ERR_JSON, LV_ERR_CONFIG, LV_ERR_PAGE,
                         LV_ERR_TEMPLATE, LV_ERR_IO, LV_ERR_STATE, LV_ERR_NOT_FOUND, LV_ERR_CALLBACK,
                         LV_ERR_REENTRANT, LV_ERR_TIMEOUT, LV_ERR_BUFFER, LV_ERR_BUSY, LV_ERR_REQUEST,
                         LV_ERR_POINTER, LV_ERR_PANIC};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = lv_errstr(codes[i]);
        CHECK(s != NULL && strncmp(s, "LV_", 3) == 0 && strchr(s, ':') != NULL);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(s, lv_errstr(codes[j])) != 0);
    }
    CHECK(STR_EQ(lv_errstr(LV_ERR_JSON), "LV_ERR_JSON: invalid JSON, or a value of another type than asked for"));
    CHECK(strncmp(lv_errstr(LV_ERR_NOT_FOUND), "LV_ERR_NOT_FOUND: ", 18) == 0);
    CHECK(STR_EQ(lv_errstr(-1), "unknown mizulive status code"));
    CHECK(STR_EQ(lv_errstr(12345), "unknown mizulive status code"));
}

/* The lv_app_* names and their deprecated aliases do the same, on one app. */
static void names_checks(void) {
    lv_app *a = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\"}");
    CHECK(a != NULL);
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_event = on_event};
    CHECK(lv_app_register_page(a, "/new", &page) == LV_OK);
    CHECK(lv_register_page(a, "/old", &page) == LV_OK);
    CHECK_ERR(lv_app_register_page(a, "/old", &page), LV_ERR_PAGE, "/old");
    char one[64] = "", two[64] = "";
    CHECK_ERR(lv_app_local_addr(a, one, sizeof one), LV_ERR_STATE, "not started");
    CHECK_ERR(lv_local_addr(a, one, sizeof one), LV_ERR_STATE, "not started");
    CHECK(lv_app_start(a, "127.0.0.1:0") == LV_OK);
    CHECK_ERR(lv_start(a, "127.0.0.1:0"), LV_ERR_STATE, "");
    CHECK(lv_app_local_addr(a, one, sizeof one) == LV_OK && lv_local_addr(a, two, sizeof two) == LV_OK);
    CHECK(strncmp(one, "127.0.0.1:", 10) == 0 && STR_EQ(one, two));
    http_get_discard(one, "/new");
    http_get_discard(one, "/old");
    CHECK(lv_app_session_count(a) == 2 && lv_session_count(a) == 2);
    CHECK(lv_app_publish(a, "t", "{}") == LV_OK && lv_publish(a, "t", "{}") == LV_OK);
    CHECK_ERR(lv_app_publish(a, "t", "{"), LV_ERR_JSON, "invalid JSON");
    CHECK_ERR(lv_publish(a, "t", "{"), LV_ERR_JSON, "invalid JSON");
    char *html = NULL, *html2 = NULL;
    CHECK(lv_app_render(a, "partials/count.html", "{\"state\": {\"count\": 7}}", &html) == LV_OK);
    CHECK(lv_render(a, "partials/count.html", "{\"state\": {\"count\": 7}}", &html2) == LV_OK);
    CHECK(html && html2 && strcmp(html, html2) == 0 && strstr(html, "7"));
    lv_string_free(html);
    lv_string_free(html2);
    CHECK(lv_app_wait(a, 0) == LV_ERR_TIMEOUT && lv_wait(a, 0) == LV_ERR_TIMEOUT);
    CHECK(lv_app_shutdown(a) == LV_OK);
    CHECK(lv_shutdown(a) == LV_OK); /* idempotent, through either name */
    CHECK(lv_app_wait(a, 0) == LV_OK && lv_wait(a, -1) == LV_OK);
    CHECK(lv_app_session_count(a) == 0 && lv_session_count(NULL) == 0 && lv_app_session_count(NULL) == 0);
    CHECK(lv_app_serve(NULL, NULL) == LV_ERR_NULL && lv_serve(NULL, NULL) == LV_ERR_NULL);
    lv_app_free(a);
}

/* Joins `token` for `url` on app `on` through a frame-carried socket; the first
 * frame that answers the join, in `out`. */
static uint64_t next_tag = 100;
static void join_on(lv_app *on, const char *cookie, const char *token, const char *url, char *out, size_t cap) {
    char headers[1536];
    snprintf(headers, sizeof headers,
             "Host: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://127.0.0.1:9\r\nCookie: %s\r\n",
             cookie);
    lv_http_request upgrade = {.method = "GET", .target = "/_live/websocket", .headers = headers,
                               .headers_len = strlen(headers)};
    lv_ws *ws = NULL;
    lv_response *refusal = NULL;
    out[0] = 0;
    uint64_t tag = next_tag++;
    CHECK(lv_ws_open(on, &upgrade, tag, &ws, &refusal) == LV_OK && ws != NULL);
    lv_response_free(refusal);
    if (!ws) return;
    char frame[4096];
    snprintf(frame, sizeof frame, "{\"t\":\"join\",\"v\":4,\"token\":\"%s\",\"url\":\"%s\",\"seq\":0}", token, url);
    CHECK(lv_ws_receive(ws, (const uint8_t *)frame, strlen(frame), 0) == LV_OK);
    lv_ws_frame f;
    for (int i = 0; i < 10 && lv_ws_next(on, 5000, &f) == LV_OK; i++) {
        if (f.tag == tag && f.close_code == 0) {
            snprintf(out, cap, "%.*s", (int)f.len, (const char *)f.data);
            break;
        }
    }
    lv_ws_close(ws);
}

/* Mounts that answer 404, 410, a rendered page under 404, and redirects; on a page
 * GET and on a join that mounts afresh (on a second app with the same secret, which
 * has no session for the token: as another node without Redis). */
static void status_checks(const char *cookie) {
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = status_mount,
                    .on_event = status_event};
    CHECK(lv_app_register_page(app, "/s/{name}", &page) == LV_OK);
    static char body[65536];
    char head[4096], extra[512];
    snprintf(extra, sizeof extra, "Cookie: %s\r\n", cookie);
    size_t before = lv_app_session_count(app);

    CHECK(request("GET", "/s/missing", extra, NULL, body, sizeof body, head, sizeof head) == 404);
    CHECK(STR_EQ(body, "404 Not Found\n"));
    CHECK(request("GET", "/s/gone", extra, NULL, body, sizeof body, NULL, 0) == 410);
    CHECK(STR_EQ(body, "410 Gone\n")); /* the message only in dev mode */
    CHECK(request("GET", "/s/moved", extra, NULL, body, sizeof body, head, sizeof head) == 303);
    CHECK(strstr(head, "location: /s/soft\r\n") != NULL);
    CHECK(request("GET", "/s/perm", extra, NULL, body, sizeof body, head, sizeof head) == 301);
    CHECK(strstr(head, "location: /s/new\r\n") != NULL);
    /* None of these keeps a session. */
    for (int i = 0; i < 100 && lv_app_session_count(app) != before; i++) nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    CHECK(lv_app_session_count(app) == before);
    /* A rendered page under 404: live as any page. */
    CHECK(request("GET", "/s/soft", extra, NULL, body, sizeof body, NULL, 0) == 404);
    CHECK(strstr(body, "id=\"lv-root\"") != NULL && strstr(body, "<b>3</b>") != NULL);
    CHECK(lv_app_session_count(app) == before + 1);
    char token[1024], csrf[128], form[2048];
    between(body, "name=\"_lv_token\" value=\"", '"', token, sizeof token);
    between(body, "name=\"_csrf\" value=\"", '"', csrf, sizeof csrf);
    snprintf(form, sizeof form, "_lv_token=%s&_csrf=%s&_lv_click=x", token, csrf);
    int seen = events_seen;
    CHECK(request("POST", "/s/soft", extra, form, NULL, 0, NULL, 0) == 303);
    CHECK(events_seen == seen + 1);
    CHECK(request("GET", "/s/fine", extra, NULL, body, sizeof body, NULL, 0) == 200);

    /* A join that mounts afresh: "flaky" now fails with 404, so the browser is sent
     * to its page's URL; "away" now redirects, so it is sent there. */
    lv_app *first = app;
    lv_app *second = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\"}");
    CHECK(second != NULL);
    page.user_data = second;
    CHECK(lv_app_register_page(second, "/s/{name}", &page) == LV_OK);
    char boot[1024], frame[4096];
    CHECK(request("GET", "/s/flaky", extra, NULL, body, sizeof body, NULL, 0) == 200);
    between(body, "\"token\":\"", '"', boot, sizeof boot);
    join_on(second, cookie, boot, "/s/flaky?x=1", frame, sizeof frame);
    CHECK(strstr(frame, "\"t\":\"redirect\"") && strstr(frame, "\"/s/flaky?x=1\""));
    CHECK(request("GET", "/s/away", extra, NULL, body, sizeof body, NULL, 0) == 200);
    between(body, "\"token\":\"", '"', boot, sizeof boot);
    join_on(second, cookie, boot, "/s/away", frame, sizeof frame);
    CHECK(strstr(frame, "\"t\":\"redirect\"") && strstr(frame, "\"/s/soft\""));
    CHECK(mounts_on_second == 2);
    /* And a rendered 404 page joins as any page. */
    CHECK(request("GET", "/s/soft", extra, NULL, body, sizeof body, NULL, 0) == 404);
    between(body, "\"token\":\"", '"', boot, sizeof boot);
    join_on(second, cookie, boot, "/s/soft", frame, sizeof frame);
    CHECK(strstr(frame, "\"t\":\"joined\"") != NULL);
    CHECK(lv_app_shutdown(second) == LV_OK);
    lv_app_free(second);
    app = first;
}

int main(void) {
    errstr_checks();
    names_checks();
    app = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\"}");
    CHECK(app != NULL);
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event};
    CHECK(lv_app_register_page(app, "/c", &page) == LV_OK);

    static char body[65536];
    char head[4096], cookie[256], extra[1024];
    CHECK(request("GET", "/c", NULL, NULL, body, sizeof body, head, sizeof head) == 200);
    between(head, "set-cookie: ", ';', cookie, sizeof cookie);
    CHECK(strncmp(cookie, "lv_bid=", 7) == 0);

    /* A no-JS POST with a repeated field. */
    char token[1024], csrf[128], form[2048];
    between(body, "name=\"_lv_token\" value=\"", '"', token, sizeof token);
    between(body, "name=\"_csrf\" value=\"", '"', csrf, sizeof csrf);
    snprintf(form, sizeof form, "_lv_token=%s&_csrf=%s&_lv_event=save&sel=a&title=x&sel=b", token, csrf);
    snprintf(extra, sizeof extra, "Cookie: %s\r\n", cookie);
    CHECK(request("POST", "/c", extra, form, NULL, 0, NULL, 0) == 303);
    CHECK(events_seen == 1);

    /* A live event over a frame-carried WebSocket. */
    char boot_token[1024];
    between(body, "\"token\":\"", '"', boot_token, sizeof boot_token);
    CHECK(boot_token[0] != 0);
    char upgrade_headers[1536];
    snprintf(upgrade_headers, sizeof upgrade_headers,
             "Host: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://127.0.0.1:9\r\nCookie: %s\r\n",
             cookie);
    lv_http_request upgrade = {.method = "GET", .target = "/_live/websocket", .headers = upgrade_headers,
                               .headers_len = strlen(upgrade_headers)};
    lv_ws *ws = NULL;
    lv_response *refusal = NULL;
    CHECK(lv_ws_open(app, &upgrade, 3, &ws, &refusal) == LV_OK && ws != NULL);
    lv_response_free(refusal);
    char frame[4096];
    snprintf(frame, sizeof frame, "{\"t\":\"join\",\"v\":4,\"token\":\"%s\",\"url\":\"/c\",\"seq\":0}", boot_token);
    CHECK(ws && lv_ws_receive(ws, (const uint8_t *)frame, strlen(frame), 0) == LV_OK);
    CHECK(await_frame(3, "\"joined\""));
    const char *event = "{\"t\":\"event\",\"ref\":5,\"type\":\"keyup\",\"name\":\"pick\",\"target\":\"#l\\u0000ist\","
                        "\"values\":{\"sel\":\"v\"},\"form\":{\"sel\":[\"x\",\"y\",\"z\"]},\"field\":\"sel\","
                        "\"key\":\"Enter\",\"meta\":{\"shift\":false,\"ctrl\":false,\"alt\":false,\"meta\":false}}";
    CHECK(ws && lv_ws_receive(ws, (const uint8_t *)event, strlen(event), 0) == LV_OK);
    CHECK(await_frame(3, "\"ref\":5"));
    CHECK(events_seen == 2);
    lv_ws_close(ws);

    status_checks(cookie);

    CHECK(lv_app_shutdown(app) == LV_OK);
    lv_app_free(app);
    printf("capi: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
