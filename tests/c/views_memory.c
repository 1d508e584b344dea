/*
 * Views held in memory: an app whose templates come from the options JSON and from
 * lv_app_add_view serves a page from a working directory with no views folder, and
 * bad template names and sources are refused with messages that name them.
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#define SECRET "\"secret\": \"0123456789abcdef0123456789abcdef\""

/* What a program might compile in, e.g. with `xxd -i` or C23 #embed. */
static const char LAYOUT[] = "<!doctype html>\n<html><head><title>{{ title or \"mem\" }}</title></head>\n"
                             "<body class=\"from-memory\">{{ content }}</body></html>\n";
static const char PAGE[] = "<div id=\"lv-root\" data-lv>\n<h1>Counter</h1>\n"
                           "<div id=\"stats\">{{ partial(\"counter/stats\") }}</div>\n</div>\n";
static const char STATS[] = "<strong id=\"count\">{{ state.count }}</strong>";

static int on_mount(lv_ctx *ctx, const char *params_json, void *user) {
    (void)params_json;
    (void)user;
    return lv_set_state(ctx, "{\"count\": 41}");
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)ctx;
    (void)event_json;
    (void)user;
    return LV_OK;
}

/* GETs `path` from `addr` ("127.0.0.1:port"); the whole response into buf. */
static void http_get(const char *addr, const char *path, char *buf, size_t len) {
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    buf[0] = 0;
    if (!colon) return;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval ten_s = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten_s, sizeof ten_s);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        char req[256];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr);
        if (write(fd, req, (size_t)n) == n) {
            size_t got = 0;
            ssize_t r;
            while (got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) > 0) got += (size_t)r;
            buf[got] = 0;
        }
    }
    close(fd);
}

int main(void) {
    /* Nothing on disk to fall back on: a fresh, empty working directory. */
    char dir[] = "/tmp/mizulive-views-memory-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) {
        perror("mkdtemp/chdir");
        return 2;
    }

    /* The default folder, "views", is missing here: a clear error. */
    CHECK(lv_app_new("{" SECRET "}") == NULL && strstr(lv_last_error(), "views does not exist"));
    /* Bad names in the options object are refused by name. */
    CHECK(lv_app_new("{\"views\": {\"pages/../../etc/passwd\": \"x\"}, " SECRET "}") == NULL &&
          strstr(lv_last_error(), "\"pages/../../etc/passwd\""));
    CHECK(lv_app_new("{\"views\": {\"pages/a.html\": 3}, " SECRET "}") == NULL &&
          strstr(lv_last_error(), "\"pages/a.html\" must be a string"));
    CHECK(lv_app_new("{\"views\": {\"pages/a.html\": \"{% if %}\"}, " SECRET "}") == NULL &&
          strstr(lv_last_error(), "pages/a.html"));

    /* The layout comes with the options; the page and its partial are added below. */
    lv_app *app = lv_app_new("{\"views\": {\"layouts/default.html\": \"<html><body class=\\\"from-memory\\\">"
                             "{{ content }}</body></html>\"}, " SECRET ", \"host_threads\": 1, \"io_threads\": 1}");
    CHECK(app != NULL);
    if (!app) return 1;

    CHECK_ERR(lv_app_add_view(NULL, "pages/a.html", "x"), LV_ERR_NULL, "app is NULL");
    CHECK_ERR(lv_app_add_view(app, NULL, "x"), LV_ERR_NULL, "name");
    CHECK_ERR(lv_app_add_view(app, "pages/a.html", NULL), LV_ERR_NULL, "source");
    CHECK_ERR(lv_app_add_view(app, "/etc/passwd", "x"), LV_ERR_TEMPLATE, "\"/etc/passwd\" is absolute");
    CHECK_ERR(lv_app_add_view(app, "pages/../x.html", "x"), LV_ERR_TEMPLATE, "\"pages/../x.html\"");
    CHECK_ERR(lv_app_add_view(app, "static/app.css", "x"), LV_ERR_TEMPLATE,
              "\"static/app.css\" is not under layouts/, pages/ or partials/");
    CHECK_ERR(lv_app_add_view(app, "pages/counter/index.html", "{% for %}"), LV_ERR_TEMPLATE,
              "pages/counter/index.html");
    CHECK_ERR(lv_app_add_view(app, "pages/bad\xff.html", "x"), LV_ERR_UTF8, "UTF-8");

    lv_page page = {.template = "counter/index",
                    .regions = "{\"stats\": \"counter/stats\"}",
                    .on_mount = on_mount,
                    .on_event = on_event};
    /* Pages are checked as they are registered: their templates must be there. */
    CHECK_ERR(lv_register_page(app, "/counter", &page), LV_ERR_TEMPLATE, "pages/counter/index.html");
    CHECK(lv_app_add_view(app, "pages/counter/index.html", PAGE) == LV_OK);
    CHECK_ERR(lv_register_page(app, "/counter", &page), LV_ERR_TEMPLATE, "partials/counter/stats.html");
    CHECK(lv_app_add_view(app, "partials/counter/stats.html", "old") == LV_OK);
    CHECK(lv_app_add_view(app, "partials/counter/stats.html", STATS) == LV_OK); /* replaces */
    CHECK(lv_register_page(app, "/counter", &page) == LV_OK);
    /* The options' layout is replaced too. */
    CHECK(lv_app_add_view(app, "layouts/default.html", LAYOUT) == LV_OK);

    char *html = NULL;
    CHECK(lv_render(app, "partials/counter/stats.html", "{\"state\": {\"count\": \"<7>\"}}", &html) == LV_OK);
    CHECK(html && strcmp(html, "<strong id=\"count\">&lt;7&gt;</strong>") == 0);
    lv_string_free(html);

    CHECK(lv_start(app, "127.0.0.1:0") == LV_OK);
    char addr[64];
    CHECK(lv_local_addr(app, addr, sizeof addr) == LV_OK);
    static char resp[65536];
    http_get(addr, "/counter", resp, sizeof resp);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(resp, "<title>mem</title>") != NULL);
    CHECK(strstr(resp, "<body class=\"from-memory\">") != NULL);
    CHECK(strstr(resp, "<div id=\"stats\"><strong id=\"count\">41</strong></div>") != NULL);
    CHECK(strstr(resp, "/_live/runtime.js") != NULL);

    CHECK(lv_shutdown(app) == LV_OK);
    lv_app_free(app);
    if (chdir("/") != 0 || rmdir(dir) != 0) perror("rmdir");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
