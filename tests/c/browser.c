/* The browser session from C: what mount sees (lv_browser_session), writes from
 * mount, a no-JS event and the auth hook (lv_browser_set, lv_auth_browser_set) seen
 * by the next mount of the same browser only; NULLs, bad JSON, a missing key, a map
 * over max_browser_session_bytes and stale handles refused by name. Requests go
 * through lv_http, so no socket is needed. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

static lv_ctx *stale_ctx;
static lv_auth *stale_req;
/* What the last mount saw of the browser session. */
static char seen[4096];

static int on_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    (void)user;
    stale_ctx = ctx;
    const char *map = lv_browser_session(ctx);
    CHECK(map != NULL);
    snprintf(seen, sizeof seen, "%s", map ? map : "");

    CHECK(lv_browser_session(NULL) == NULL);
    CHECK(lv_browser_set(NULL, "k", "1") == LV_ERR_NULL);
    CHECK(lv_browser_set(ctx, NULL, "1") == LV_ERR_NULL && strstr(lv_last_error(), "key is NULL"));
    CHECK(lv_browser_set(ctx, "k", NULL) == LV_ERR_NULL && strstr(lv_last_error(), "json is NULL"));
    CHECK(lv_browser_set(ctx, "k", "{bad") == LV_ERR_JSON && strstr(lv_last_error(), "invalid JSON"));
    CHECK(lv_browser_set(ctx, "\xff", "1") == LV_ERR_UTF8);
    CHECK(lv_browser_remove(ctx, "no such key") == LV_ERR_NOT_FOUND && strstr(lv_last_error(), "no such key"));
    CHECK(lv_browser_remove(NULL, "k") == LV_ERR_NULL);
    CHECK(lv_browser_remove(ctx, NULL) == LV_ERR_NULL);
    /* Over the limit (200 bytes): refused by name, nothing changes. */
    char big[512];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = 0;
    CHECK(lv_browser_set(ctx, "big", big) == LV_ERR_STATE && strstr(lv_last_error(), "max_browser_session_bytes"));
    CHECK(strstr(lv_browser_session(ctx), "big") == NULL);

    /* Count this browser's page loads: written here, seen by the next mount. */
    int64_t visits = 0;
    const char *at = strstr(map ? map : "", "\"visits\":");
    if (at) visits = atoll(at + strlen("\"visits\":"));
    char json[32];
    snprintf(json, sizeof json, "%lld", (long long)(visits + 1));
    CHECK(lv_browser_set(ctx, "visits", json) == LV_OK);
    CHECK(strstr(lv_browser_session(ctx), json) != NULL); /* the callback sees its own write */
    return LV_OK;
}

static int on_event(lv_ctx *ctx, const char *event, void *user) {
    (void)user;
    CHECK(lv_browser_set(ctx, "voted", "true") == LV_OK);
    if (strstr(event, "\"fail\"")) {
        CHECK(lv_browser_remove(ctx, "visits") == LV_OK);
        return lv_error(ctx, "refused after writing");
    }
    return LV_OK;
}

/* Logs in whoever brings a `login` cookie by writing them into the browser session. */
static int auth(lv_auth *req, const char *request_json, void *user) {
    (void)user;
    stale_req = req;
    CHECK(strstr(request_json, "\"browser\":{") != NULL);
    const char *map = lv_auth_browser_session(req);
    CHECK(map != NULL && map[0] == '{');
    CHECK(lv_auth_browser_session(NULL) == NULL);
    CHECK(lv_auth_browser_set(NULL, "user", "1") == LV_ERR_NULL);
    CHECK(lv_auth_browser_set(req, NULL, "1") == LV_ERR_NULL);
    CHECK(lv_auth_browser_set(req, "user", NULL) == LV_ERR_NULL);
    CHECK(lv_auth_browser_set(req, "user", "{") == LV_ERR_JSON);
    CHECK(lv_auth_browser_remove(req, "no such key") == LV_ERR_NOT_FOUND);
    CHECK(lv_auth_browser_remove(NULL, "user") == LV_ERR_NULL);
    if (strstr(request_json, "\"login\":\"ann\"")) {
        CHECK(lv_auth_browser_set(req, "user", "\"ann\"") == LV_OK);
        CHECK(strstr(lv_auth_browser_session(req), "\"user\":\"ann\"") != NULL);
    }
    if (strstr(request_json, "\"logout\"")) {
        CHECK(lv_auth_browser_remove(req, "user") == LV_OK);
    }
    return LV_OK;
}

static lv_app *app;

/* GETs or POSTs /b through lv_http; returns the status, fills `body` and the
 * browser cookie the response set (if any). */
static int request(const char *method, const char *cookie, const char *form, char *body, size_t cap,
                   char *set_cookie, size_t set_cap) {
    char headers[1024];
    snprintf(headers, sizeof headers, "Host: 127.0.0.1:9\r\n%s%s%s%s", cookie ? "Cookie: " : "",
             cookie ? cookie : "", cookie ? "\r\n" : "",
             form ? "Content-Type: application/x-www-form-urlencoded\r\n" : "");
    lv_http_request req = {.method = method, .target = "/b", .headers = headers, .headers_len = strlen(headers),
                           .body = (const uint8_t *)form, .body_len = form ? strlen(form) : 0};
    lv_response *resp = NULL;
    CHECK(lv_http(app, &req, &resp) == LV_OK);
    if (!resp) return 0;
    int status = lv_response_status(resp);
    size_t len = 0;
    const uint8_t *data = lv_response_body(resp, &len);
    snprintf(body, cap, "%.*s", (int)len, (const char *)data);
    const char *head = lv_response_headers(resp, &len);
    char all[4096];
    snprintf(all, sizeof all, "%.*s", (int)len, head);
    if (set_cookie) {
        set_cookie[0] = 0;
        const char *at = strstr(all, "set-cookie: lv_bid=");
        if (at) snprintf(set_cookie, set_cap, "%.*s", (int)strcspn(at + 12, ";\r"), at + 12);
    }
    lv_response_free(resp);
    return status;
}

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
    app = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\", "
                     "\"max_browser_session_bytes\": 200}");
    CHECK(app != NULL);
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event};
    CHECK(lv_register_page(app, "/b", &page) == LV_OK);
    CHECK(lv_app_set_auth(app, auth, NULL, NULL) == LV_OK);

    static char body[65536];
    char browser[256], again[256], cookie[512];

    /* A new browser logs in: the hook's write is what its first mount sees. */
    CHECK(request("GET", "login=ann", NULL, body, sizeof body, browser, sizeof browser) == 200);
    CHECK(strncmp(browser, "lv_bid=", 7) == 0 && strchr(browser, '.') != NULL); /* <id>.<tag> */
    CHECK(strcmp(seen, "{\"user\":\"ann\"}") == 0);

    /* The same browser's next load: the hook's and the mount's writes. */
    CHECK(request("GET", browser, NULL, body, sizeof body, again, sizeof again) == 200);
    CHECK(again[0] == 0); /* a signed cookie is kept */
    CHECK(strstr(seen, "\"user\":\"ann\"") && strstr(seen, "\"visits\":1"));

    /* A no-JS event writes; a failing one's writes are dropped. */
    char token[1024], csrf[128], form[2048];
    field(body, "_lv_token", token, sizeof token);
    field(body, "_csrf", csrf, sizeof csrf);
    snprintf(form, sizeof form, "_lv_token=%s&_csrf=%s&_lv_click=fail", token, csrf);
    CHECK(request("POST", browser, form, body, sizeof body, NULL, 0) == 303);
    CHECK(request("GET", browser, NULL, body, sizeof body, NULL, 0) == 200);
    CHECK(strstr(seen, "\"visits\":2") && !strstr(seen, "voted"));
    field(body, "_lv_token", token, sizeof token);
    field(body, "_csrf", csrf, sizeof csrf);
    snprintf(form, sizeof form, "_lv_token=%s&_csrf=%s&_lv_click=inc%%3Fby%%3D2", token, csrf);
    CHECK(request("POST", browser, form, body, sizeof body, NULL, 0) == 303);
    CHECK(request("GET", browser, NULL, body, sizeof body, NULL, 0) == 200);
    CHECK(strstr(seen, "\"voted\":true") && strstr(seen, "\"visits\":3"));

    /* The hook removes a key (logout). */
    snprintf(cookie, sizeof cookie, "%s; logout=1", browser);
    CHECK(request("GET", cookie, NULL, body, sizeof body, NULL, 0) == 200);
    CHECK(!strstr(seen, "user") && strstr(seen, "\"voted\":true"));

    /* Another browser, and a forged one (the id without its tag), see nothing of it
     * and get a fresh cookie. */
    CHECK(request("GET", NULL, NULL, body, sizeof body, again, sizeof again) == 200);
    CHECK(strcmp(seen, "{}") == 0 && again[0] != 0);
    char forged[256];
    snprintf(forged, sizeof forged, "%.*s", (int)strcspn(browser, "."), browser);
    CHECK(request("GET", forged, NULL, body, sizeof body, again, sizeof again) == 200);
    CHECK(strcmp(seen, "{}") == 0 && again[0] != 0 && strcmp(again, browser) != 0);

    /* Handles outlive nothing. */
    CHECK(lv_browser_session(stale_ctx) == NULL);
    CHECK(lv_browser_set(stale_ctx, "k", "1") == LV_ERR_STATE && strstr(lv_last_error(), "outside its callback"));
    CHECK(lv_browser_remove(stale_ctx, "k") == LV_ERR_STATE);
    CHECK(lv_auth_browser_session(stale_req) == NULL);
    CHECK(lv_auth_browser_set(stale_req, "k", "1") == LV_ERR_STATE && strstr(lv_last_error(), "outside its auth hook"));
    CHECK(lv_auth_browser_remove(stale_req, "k") == LV_ERR_STATE);

    CHECK(lv_shutdown(app) == LV_OK);
    lv_app_free(app);
    printf("browser: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
