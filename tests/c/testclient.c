/* The test client from C: the counter of examples-c/counter and a page with a form,
 * driven in-process (no port): clicks by selector patch regions, a typo in an event
 * name fails by name, a form is submitted with checkboxes and overrides, a key filter
 * holds, nothing else arrives (lv_test_refute_push), the state is read from the
 * session, a publish arrives as a push, NULLs and calls from a callback are refused,
 * and a call from another thread works. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"

static lv_test *shared_t;
static int reentrant_rc = -1;

/* The counter, as in examples-c/counter, plus a subscription for publishes. */
static int counter_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    (void)user;
    CHECK(lv_subscribe(ctx, "counter") == LV_OK);
    return lv_set_state(ctx, "{\"count\": 0, \"log\": []}");
}

static int counter_event(lv_ctx *ctx, const char *event, void *user) {
    (void)event;
    (void)user;
    const char *name = lv_event_name(ctx);
    int sign = strcmp(name, "inc") == 0 ? 1 : strcmp(name, "dec") == 0 ? -1 : 0;
    if (!sign) return lv_error(ctx, "unknown event");
    /* The test client waits for the session: not from inside one of its callbacks. */
    if (shared_t && reentrant_rc == -1) reentrant_rc = lv_test_click(shared_t, "button");
    const char *by_text = lv_event_get(ctx, "by");
    long by = by_text ? strtol(by_text, NULL, 10) : 1;
    int64_t count = 0;
    if (lv_get_int(ctx, "/count", &count) != LV_OK) return lv_error(ctx, lv_last_error());
    count += sign * by;
    char entry[64];
    snprintf(entry, sizeof entry, "%s %ld -> %lld", name, by, (long long)count);
    if (lv_set_int(ctx, "/count", count) != LV_OK || lv_set_str(ctx, "/log/-", entry) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    lv_mark(ctx, "stats");
    lv_mark(ctx, "log");
    return LV_OK;
}

static int counter_info(lv_ctx *ctx, const char *msg, void *user) {
    (void)user;
    const char *at = strstr(msg, "\"set\":");
    if (!at) return lv_error(ctx, "expected {\"set\": N}");
    if (lv_set_int(ctx, "/count", atoll(at + 6)) != LV_OK) return lv_error(ctx, lv_last_error());
    lv_mark(ctx, "stats");
    return LV_OK;
}

/* A form page: the last event as the host received it goes into the state. */
static int form_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    (void)user;
    return lv_set_state(ctx, "{\"last\": null}");
}

static int form_event(lv_ctx *ctx, const char *event, void *user) {
    (void)user;
    if (lv_set(ctx, "/last", event) != LV_OK) return lv_error(ctx, lv_last_error());
    lv_mark(ctx, "saved");
    return LV_OK;
}

static void *click_from_another_thread(void *arg) {
    int *rc = arg;
    *rc = lv_test_click(shared_t, "[data-lv-click=dec]");
    return NULL;
}

static int contains(char *owned, const char *needle) {
    int found = owned && strstr(owned, needle) != NULL;
    if (owned && !found) fprintf(stderr, "  (looked for %s in %s)\n", needle, owned);
    lv_string_free(owned);
    return found;
}

#define VIEWS                                                                                            \
    "{\"layouts/default.html\": \"<!doctype html><html><head><title>{{ title or 'Counter' }}</title>"    \
    "</head><body>{{ content }}</body></html>\","                                                       \
    "\"pages/counter/index.html\": \"<div id='lv-root' data-lv><h1>Counter</h1>{{ lv.form() }}"         \
    "<button {{ lv.click('dec', by=1) }}>-</button><button {{ lv.click('inc', by=1) }}>+</button>"     \
    "</form><div id='stats'>{{ partial('counter/stats') }}</div>"                                       \
    "<div id='log'>{{ partial('counter/log') }}</div></div>\","                                         \
    "\"partials/counter/stats.html\": \"<p>Count: <strong id='count'>{{ state.count }}</strong></p>\"," \
    "\"partials/counter/log.html\": \"<ol>{% for e in state.log %}<li>{{ e }}</li>{% endfor %}</ol>\"," \
    "\"pages/form.html\": \"<div id='lv-root' data-lv>{{ lv.form('save') }}"                            \
    "<input name='title' value='draft'><input type='checkbox' name='tags' value='a'>"                   \
    "<input type='checkbox' name='tags' value='b' checked><select name='color'><option>red"             \
    "<option>blue</select><button type='submit' name='action' value='go'>Go</button></form>"            \
    "<input id='q' name='q' value='typed' {{ lv.keydown('search', key='Enter') }}>"                     \
    "<div id='saved'>{{ partial('saved') }}</div></div>\","                                             \
    "\"partials/saved.html\": \"{% if state.last %}{{ state.last.name }}:{{ state.last.form.title }}|"  \
    "{{ state.last.form.tags }}|{{ state.last.form.color }}|{{ state.last.form.action }}|"              \
    "{{ state.last.key }}{% endif %}\"}"

int main(void) {
    lv_app *app = lv_app_new("{\"secret\": \"0123456789abcdef0123456789abcdef\", \"views\": " VIEWS "}");
    CHECK(app != NULL);
    lv_page counter = {.template = "counter/index",
                       .regions = "{\"stats\": \"counter/stats\", \"log\": \"counter/log\"}",
                       .on_mount = counter_mount,
                       .on_event = counter_event,
                       .on_info = counter_info};
    lv_page form = {.template = "form", .regions = "{\"saved\": \"saved\"}", .on_mount = form_mount,
                    .on_event = form_event};
    CHECK(lv_register_page(app, "/counter", &counter) == LV_OK);
    CHECK(lv_register_page(app, "/form", &form) == LV_OK);

    /* NULLs and bad input, refused by name; nothing is written to *out. */
    lv_test *t = NULL;
    CHECK_ERR(lv_test_open(NULL, "/counter", NULL, &t), LV_ERR_NULL, "app is NULL");
    CHECK_ERR(lv_test_open(app, NULL, NULL, &t), LV_ERR_NULL, "path is NULL");
    CHECK_ERR(lv_test_open(app, "/counter", NULL, NULL), LV_ERR_NULL, "out is NULL");
    CHECK_ERR(lv_test_open(app, "/counter", "{\"timeout\": 1}", &t), LV_ERR_JSON, "unknown test client option");
    CHECK_ERR(lv_test_open(app, "/nope", NULL, &t), LV_ERR_NOT_FOUND, "GET /nope answered 404");
    CHECK(t == NULL);
    lv_test_close(NULL);

    /* The counter, no lv_start: a click patches both regions. */
    CHECK(lv_test_open(app, "/counter", "{\"timeout_ms\": 5000}", &t) == LV_OK && t != NULL);
    shared_t = t;
    char *s = NULL;
    CHECK(lv_test_region(t, "stats", &s) == LV_OK && contains(s, "Count: <strong id=\"count\">0</strong>"));
    CHECK(lv_test_click(t, "[data-lv-click=inc]") == LV_OK);
    CHECK(reentrant_rc == LV_ERR_REENTRANT);
    CHECK(lv_test_region(t, "stats", &s) == LV_OK && contains(s, "Count: <strong id=\"count\">1</strong>"));
    CHECK(lv_test_html(t, "#log", &s) == LV_OK && contains(s, "<li>inc 1 -&gt; 1</li>"));
    CHECK(lv_test_html(t, NULL, &s) == LV_OK && contains(s, "<title>Counter</title>"));
    CHECK(lv_test_title(t, &s) == LV_OK && contains(s, "Counter"));
    CHECK(lv_test_path(t, &s) == LV_OK && contains(s, "/counter"));
    CHECK(lv_test_state(t, &s) == LV_OK && contains(s, "\"count\":1"));
    CHECK(lv_test_flash(t, &s) == LV_OK && contains(s, "{}"));

    /* From another thread. */
    pthread_t th;
    int thread_rc = -1;
    CHECK(pthread_create(&th, NULL, click_from_another_thread, &thread_rc) == 0);
    pthread_join(th, NULL);
    CHECK(thread_rc == LV_OK);
    CHECK(lv_test_state(t, &s) == LV_OK && contains(s, "\"count\":0"));

    /* A typo in an event name fails the test by name, listing what the page has. */
    CHECK_ERR(lv_test_click(t, "[data-lv-click=incr]"), LV_ERR_NOT_FOUND, "\"[data-lv-click=incr]\" matches no element");
    CHECK(strstr(lv_last_error(), "\"dec\", \"inc\"") != NULL);
    CHECK_ERR(lv_test_click(t, "h1"), LV_ERR_NOT_FOUND, "has no data-lv-click");
    CHECK_ERR(lv_test_click(t, "button"), LV_ERR_REQUEST, "matches 2 elements");
    CHECK_ERR(lv_test_click(t, "li:hover"), LV_ERR_REQUEST, "pseudo-class");
    CHECK_ERR(lv_test_region(t, "stat", &s), LV_ERR_NOT_FOUND, "no element #stat");
    CHECK_ERR(lv_test_click(NULL, "button"), LV_ERR_NULL, "t is NULL");
    CHECK_ERR(lv_test_click(t, NULL), LV_ERR_NULL, "selector is NULL");
    CHECK_ERR(lv_test_html(t, NULL, NULL), LV_ERR_NULL, "out is NULL");
    CHECK_ERR(lv_test_state(t, NULL), LV_ERR_NULL, "out_json is NULL");
    CHECK_ERR(lv_test_event(t, "{\"type\": \"click\""), LV_ERR_JSON, "invalid JSON");
    CHECK_ERR(lv_test_event(t, "{\"type\": \"click\", \"name\": \"nope\"}"), LV_ERR_CALLBACK, "host_error");
    /* The failed reply's code and message as JSON fields (the generic message: dev mode is off). */
    CHECK(lv_test_reply(t, &s) == LV_OK && contains(s, "{\"error\":{\"code\":\"host_error\",\"message\":\"something went wrong handling this event\"},\"ok\":false}"));
    CHECK(lv_test_click(t, "[data-lv-click=inc]") == LV_OK);
    CHECK(lv_test_reply(t, &s) == LV_OK && contains(s, "{\"ok\":true}"));
    CHECK(lv_test_click(t, "[data-lv-click=dec]") == LV_OK);
    CHECK_ERR(lv_test_reply(t, NULL), LV_ERR_NULL, "out_json is NULL");
    /* A NUL in a value reaches C as U+FFFD, not as the end of the text: "2\uFFFDx"
     * reads as 2 (cut at the NUL, or refused, it would read as 0). */
    CHECK(lv_test_event(t, "{\"type\": \"click\", \"name\": \"inc\", \"values\": {\"by\": \"2\\u0000x\"}}") == LV_OK);
    CHECK(lv_test_state(t, &s) == LV_OK && contains(s, "\"count\":2"));

    /* Nothing arrives by itself; a publish arrives as a push, already applied. */
    CHECK(lv_test_refute_push(t, 200) == LV_OK);
    CHECK(lv_publish(app, "counter", "{\"set\": 7}") == LV_OK);
    char *push = NULL;
    CHECK(lv_test_next_push(t, 5000, &push) == LV_OK && contains(push, "\"t\":\"patch\""));
    CHECK(lv_test_region(t, "stats", &s) == LV_OK && contains(s, ">7</strong>"));
    CHECK_ERR(lv_test_next_push(t, 100, &push), LV_ERR_TIMEOUT, "no push within 100 ms");
    CHECK(lv_publish(app, "counter", "{\"set\": 8}") == LV_OK);
    CHECK_ERR(lv_test_refute_push(t, 2000), LV_ERR_STATE, "expected no push within 2000 ms, got {");

    /* The form page, in the same browser: fields as a browser sends them. */
    CHECK(lv_test_visit(t, "/form") == LV_OK);
    CHECK(lv_test_submit(t, "form", NULL) == LV_OK);
    CHECK(lv_test_region(t, "saved", &s) == LV_OK &&
          contains(s, "save:[\"draft\"]|[\"b\"]|[\"red\"]||None"));
    CHECK(lv_test_submit(t, "button[name=action]", "{\"title\": \"Hello\", \"tags\": [\"a\"], \"color\": \"blue\"}") ==
          LV_OK);
    CHECK(lv_test_state(t, &s) == LV_OK &&
          contains(s, "\"form\":{\"action\":[\"go\"],\"color\":[\"blue\"],\"tags\":[\"a\"],\"title\":[\"Hello\"]}"));
    CHECK_ERR(lv_test_submit(t, "form", "{\"titel\": \"x\"}"), LV_ERR_NOT_FOUND, "no field named \"titel\"");
    CHECK_ERR(lv_test_submit(t, "form", "[1"), LV_ERR_JSON, "invalid JSON");
    CHECK_ERR(lv_test_key(t, "#q", "keydown", "a"), LV_ERR_NOT_FOUND, "data-lv-key is \"Enter\"");
    CHECK(lv_test_key(t, "#q", "keydown", "Enter") == LV_OK);
    CHECK(lv_test_state(t, &s) == LV_OK && contains(s, "\"values\":{\"value\":\"typed\"}"));
    CHECK_ERR(lv_test_key(t, "#q", "keypress", "a"), LV_ERR_REQUEST, "expected \"keydown\" or \"keyup\"");
    CHECK_ERR(lv_test_change(t, "[name=title]", "x"), LV_ERR_NOT_FOUND, "has no data-lv-change");

    /* A client still open at shutdown: its calls are refused, its close still frees it. */
    lv_test *late = NULL;
    CHECK(lv_test_open(app, "/counter", NULL, &late) == LV_OK);
    lv_test_close(t);
    shared_t = NULL;
    CHECK(lv_shutdown(app) == LV_OK);
    CHECK_ERR(lv_test_click(late, "[data-lv-click=inc]"), LV_ERR_STATE, "shut down");
    CHECK_ERR(lv_test_open(app, "/counter", NULL, &t), LV_ERR_STATE, "shut down");
    lv_app_free(app);
    lv_test_close(late);
    printf("testclient: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
