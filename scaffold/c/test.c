/*
 * The pages of __NAME__, driven as a browser drives them, in process (no port):
 *
 *   make test
 *
 * Each check prints what failed and where; the exit status is the number of failures.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: failed: %s (%s)\n", __FILE__, __LINE__, #cond, lv_last_error()); \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Whether the inner HTML of `selector` (NULL: the whole page) holds `needle` as
 * `want` says; when not, prints that HTML. */
static int holds(lv_test *t, const char *selector, const char *needle, int want) {
    char *html = NULL;
    if (lv_test_html(t, selector, &html) != LV_OK) {
        return 0;
    }
    int found = strstr(html, needle) != NULL;
    if (found != want) {
        fprintf(stderr, "%s %s %s:\n%s\n", selector ? selector : "the page", want ? "lacks" : "still shows", needle, html);
    }
    lv_string_free(html);
    return found == want;
}

#define shows(t, selector, needle) holds(t, selector, needle, 1)
#define lacks(t, selector, needle) holds(t, selector, needle, 0)

static void test_counter(lv_app *app) {
    lv_test *t = NULL;
    CHECK(lv_test_open(app, "/counter", NULL, &t) == LV_OK);
    if (!t) {
        return;
    }
    CHECK(shows(t, "#count", "0"));
    CHECK(lv_test_click(t, "[data-lv-click=inc]") == LV_OK);
    CHECK(lv_test_click(t, "[data-lv-click=inc]") == LV_OK);
    CHECK(shows(t, "#count", "2"));
    CHECK(shows(t, "#log", "inc 1 → 2"));
    CHECK(lv_test_click(t, "[data-lv-click=dec]") == LV_OK);
    CHECK(shows(t, "#count", "1"));
    lv_test_close(t);
}

static void test_list(lv_app *app) {
    lv_test *ann = NULL, *bob = NULL;
    CHECK(lv_test_open(app, "/list", NULL, &ann) == LV_OK);
    CHECK(lv_test_open(app, "/list", NULL, &bob) == LV_OK);
    if (!ann || !bob) {
        lv_test_close(ann);
        lv_test_close(bob);
        return;
    }
    CHECK(lv_test_submit(ann, "#new-item", "{\"text\": \"\"}") == LV_OK);
    CHECK(shows(ann, "#new", "Write something first."));

    CHECK(lv_test_submit(ann, "#new-item", "{\"text\": \"milk & honey\"}") == LV_OK);
    /* The item reaches every page on the topic, ann's own too: as a push, once the
     * publish arrives (after the reply to the submit). */
    lv_test *pages[] = {ann, bob};
    for (size_t i = 0; i < 2; i++) {
        char *push = NULL;
        CHECK(lv_test_next_push(pages[i], 5000, &push) == LV_OK);
        lv_string_free(push);
        CHECK(shows(pages[i], "#items", "<li id=\"item-1\">milk &amp; honey</li>"));
    }
    CHECK(lacks(ann, "#new", "Write something first."));
    lv_test_close(ann);
    lv_test_close(bob);

    /* A page opened later starts from the list. */
    lv_test *later = NULL;
    CHECK(lv_test_open(app, "/list", NULL, &later) == LV_OK);
    if (later) {
        CHECK(shows(later, "#items", "milk &amp; honey"));
        lv_test_close(later);
    }
}

int main(void) {
    lv_app *app = lv_app_new("{\"views\": \"views\", \"secret\": \"test-secret-0123456789abcdef0123456789\"}");
    if (!app) {
        fprintf(stderr, "lv_app_new: %s\n", lv_last_error());
        return 1;
    }
    if (pages_register(app) != LV_OK) {
        fprintf(stderr, "pages_register: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    test_counter(app);
    test_list(app);
    lv_app_shutdown(app);
    lv_app_free(app);
    if (failures == 0) {
        printf("ok: the counter and the list\n");
    }
    return failures;
}
