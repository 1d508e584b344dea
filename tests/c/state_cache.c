/* A host's decoded copy of the state kept with its session (lv_set_state_cache,
 * lv_state_cache): fresh until anything changes the state (a write, a failed
 * callback's rollback), replaced values dropped once, the same value kept without a
 * drop, one per session, NULLs refused, and every value dropped when its session
 * ends. Driven in-process with the test client. */
#include "check.h"

/* A value a host keeps: counts its drops. */
struct slot {
    const char *name;
    int drops;
};

static struct slot a = {"a", 0}, b = {"b", 0}, other = {"other", 0};
static int other_drops;

static void drop_slot(void *p) { ((struct slot *)p)->drops++; }
static void drop_other(void *p) {
    (void)p;
    other_drops++;
}

/* What the last callback saw before doing anything. */
static void *seen;
static int seen_fresh;
static lv_ctx *stale_ctx;

static int on_mount(lv_ctx *ctx, const char *params, void *user) {
    (void)params;
    (void)user;
    seen_fresh = -1;
    seen = lv_state_cache(ctx, &seen_fresh);
    return lv_set_state(ctx, "{\"n\": 0}");
}

static int on_event(lv_ctx *ctx, const char *event, void *user) {
    (void)event;
    (void)user;
    seen_fresh = -1;
    seen = lv_state_cache(ctx, &seen_fresh);
    stale_ctx = ctx;
    const char *name = lv_event_name(ctx);
    int fresh = -1;
    if (strcmp(name, "look") == 0) return LV_OK;
    if (strcmp(name, "keep_a") == 0 || strcmp(name, "keep_b") == 0) {
        int64_t n = 0;
        if (lv_get_int(ctx, "/n", &n) != LV_OK || lv_set_int(ctx, "/n", n + 1) != LV_OK) {
            return lv_error(ctx, lv_last_error());
        }
        struct slot *s = name[5] == 'a' ? &a : &b;
        CHECK(lv_set_state_cache(ctx, s, drop_slot) == LV_OK);
        CHECK(lv_state_cache(ctx, &fresh) == s && fresh == 1);
        return LV_OK;
    }
    if (strcmp(name, "keep_b_again") == 0) {
        /* The value already kept: fresh again, no drop, and its drop function stays. */
        CHECK(lv_set_state_cache(ctx, &b, drop_other) == LV_OK);
        return LV_OK;
    }
    if (strcmp(name, "write") == 0) {
        /* Any write makes it stale at once; the value stays the host's. */
        CHECK(lv_set_str(ctx, "/note", "written") == LV_OK);
        CHECK(lv_state_cache(ctx, &fresh) == seen && fresh == 0);
        return LV_OK;
    }
    if (strcmp(name, "fail") == 0) {
        /* Vouched for, then the callback fails: its writes are rolled back, so the
         * next callback finds the value stale. */
        CHECK(lv_set_int(ctx, "/n", 1000) == LV_OK);
        CHECK(lv_set_state_cache(ctx, seen, drop_slot) == LV_OK);
        return lv_error(ctx, "failing on purpose");
    }
    if (strcmp(name, "nulls") == 0) {
        CHECK_ERR(lv_set_state_cache(ctx, NULL, drop_slot), LV_ERR_NULL, "value is NULL");
        CHECK(lv_state_cache(ctx, NULL) == seen); /* `fresh` may be NULL */
        CHECK(lv_state_cache(NULL, &fresh) == NULL && fresh == 0);
        return LV_OK;
    }
    return lv_error(ctx, "unknown event");
}

static void event(lv_test *t, const char *name) {
    char json[128];
    snprintf(json, sizeof json, "{\"type\": \"click\", \"name\": \"%s\"}", name);
    int rc = lv_test_event(t, json);
    CHECK(rc == (strcmp(name, "fail") == 0 ? LV_ERR_CALLBACK : LV_OK));
}

#define VIEWS                                                                         \
    "{\"layouts/default.html\": \"<!doctype html><html><body>{{ content }}</body></html>\"," \
    "\"pages/kept.html\": \"<div id='lv-root' data-lv><p>{{ state.n }}</p></div>\"}"

int main(void) {
    lv_app *app = lv_app_new("{\"secret\": \"0123456789abcdef0123456789abcdef\", \"views\": " VIEWS "}");
    CHECK(app != NULL);
    lv_page page = {.template = "kept", .on_mount = on_mount, .on_event = on_event};
    CHECK(lv_register_page(app, "/kept", &page) == LV_OK);

    lv_test *t = NULL;
    CHECK(lv_test_open(app, "/kept", "{\"timeout_ms\": 5000}", &t) == LV_OK);
    CHECK(seen == NULL && seen_fresh == 0); /* mount: nothing kept yet */
    event(t, "look");
    CHECK(seen == NULL && seen_fresh == 0);

    event(t, "keep_a");
    event(t, "look");
    CHECK(seen == &a && seen_fresh == 1);
    event(t, "look"); /* reading changes nothing */
    CHECK(seen == &a && seen_fresh == 1);

    event(t, "write");
    event(t, "look");
    CHECK(seen == &a && seen_fresh == 0);

    event(t, "keep_a"); /* the same value again: fresh, no drop */
    CHECK(a.drops == 0);
    event(t, "fail");
    event(t, "look");
    CHECK(seen == &a && seen_fresh == 0);
    char *state = NULL;
    CHECK(lv_test_state(t, &state) == LV_OK && state && strstr(state, "\"n\":2") != NULL);
    lv_string_free(state);

    event(t, "keep_b"); /* another value: the one it replaces is dropped, once */
    CHECK(a.drops == 1 && b.drops == 0);
    event(t, "write");
    event(t, "keep_b_again");
    event(t, "look");
    CHECK(seen == &b && seen_fresh == 1);
    CHECK(b.drops == 0 && other_drops == 0);
    event(t, "nulls");

    /* Outside its callback the context is refused. */
    int fresh = -1;
    CHECK(lv_state_cache(stale_ctx, &fresh) == NULL && fresh == 0);

    /* Another session of the page keeps nothing of the first's. */
    lv_test *t2 = NULL;
    CHECK(lv_test_open(app, "/kept", "{\"timeout_ms\": 5000}", &t2) == LV_OK);
    event(t2, "look");
    CHECK(seen == NULL && seen_fresh == 0);
    lv_test_close(t2);
    lv_test_close(t);

    /* The sessions end with the app: the kept value is dropped once, with the drop
     * function it was first kept with. */
    CHECK(lv_shutdown(app) == LV_OK);
    CHECK(a.drops == 1 && b.drops == 1 && other_drops == 0 && other.drops == 0);
    lv_app_free(app);

    printf("state_cache: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
