/*
 * lv_app_free while other threads are still inside calls on the app: one thread
 * blocked in lv_serve, several blocked in lv_wait, and a callback publishing in a
 * loop. The library keeps the app alive until the last of those calls has returned.
 * Run it under AddressSanitizer and valgrind (`make -C tests/c sanitize`): a read
 * of freed memory by any of those threads is reported there.
 *
 * (ASan sees the host's side only: the library is not instrumented. valgrind sees
 * every access, so it is the one that catches a library thread reading a freed app.)
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WAITERS 8
/* Each round frees a fresh app under the same load: a read of freed memory is a
 * race a single round may win by luck. */
#define ROUNDS 8
/* Bounds on every loop: the publishing callback and every poll stop by themselves. */
#define MAX_PUBLISHES 200000
#define AFTER_FREE_PUBLISHES 200
#define POLLS 1000 /* of 10 ms each */


static lv_app *app;
static atomic_int mounted, freeing, publish_errors;
static atomic_long published, published_after;
static char addr[64];

static void pause_10ms(void) {
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    nanosleep(&ms10, NULL);
}

static int on_mount(lv_ctx *ctx, const char *params_json, void *user) {
    (void)params_json;
    (void)user;
    atomic_store(&mounted, 1);
    /* Publishes while the main thread frees the app: lv_app_free waits for this
     * callback, and these calls must find the app whole. */
    for (long i = 0; i < MAX_PUBLISHES && !atomic_load(&freeing); i++) {
        if (lv_publish(app, "race", "{\"n\": 1}") != LV_OK) atomic_fetch_add(&publish_errors, 1);
        atomic_fetch_add(&published, 1);
    }
    for (int i = 0; i < AFTER_FREE_PUBLISHES; i++) {
        if (lv_publish(app, "race", "{\"n\": 2}") != LV_OK) atomic_fetch_add(&publish_errors, 1);
        atomic_fetch_add(&published_after, 1);
    }
    return lv_set_state(ctx, "{\"count\": 0}");
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)ctx;
    (void)event_json;
    (void)user;
    return LV_OK;
}

/* A blocked thread: its id, and the status its blocking call returned. */
struct blocked {
    pthread_t thread;
    atomic_int tid;
    atomic_int rc;
};

static struct blocked serving, waiters[WAITERS];

static void *serve_thread(void *arg) {
    struct blocked *self = arg;
    atomic_store(&self->tid, (int)syscall(SYS_gettid));
    atomic_store(&self->rc, lv_serve(app, "127.0.0.1:0"));
    return NULL;
}

static void *wait_thread(void *arg) {
    struct blocked *self = arg;
    /* A first, non-blocking call resolves the symbol, so once this thread sleeps it
     * sleeps inside lv_wait. */
    int first = lv_wait(app, 0);
    atomic_store(&self->tid, (int)syscall(SYS_gettid));
    atomic_store(&self->rc, first == LV_ERR_TIMEOUT ? lv_wait(app, -1) : -first);
    return NULL;
}

/* True once thread `tid` of this process is asleep (state S in its stat). */
static int asleep(int tid) {
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *close_paren = strrchr(stat, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'S';
}

static int wait_asleep(struct blocked *b) {
    for (int i = 0; i < POLLS; i++) {
        int tid = atomic_load(&b->tid);
        if (tid && asleep(tid)) return 1;
        pause_10ms();
    }
    return 0;
}

/* One GET whose mount runs the publishing loop; the answer does not matter. */
static void *get_thread(void *arg) {
    (void)arg;
    http_get_discard(addr, "/race");
    return NULL;
}

static void round_trip(void) {
    atomic_store(&mounted, 0);
    atomic_store(&freeing, 0);
    app = lv_app_new("{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\"}");
    CHECK(app != NULL);
    if (!app) return;
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event};
    CHECK(lv_register_page(app, "/race", &page) == LV_OK);

    atomic_store(&serving.tid, 0);
    atomic_store(&serving.rc, -1);
    CHECK(pthread_create(&serving.thread, NULL, serve_thread, &serving) == 0);
    int bound = 0;
    for (int i = 0; i < POLLS && !bound; i++) {
        bound = lv_local_addr(app, addr, sizeof addr) == LV_OK;
        if (!bound) pause_10ms();
    }
    CHECK(bound);
    CHECK(wait_asleep(&serving));
    for (int i = 0; i < WAITERS; i++) {
        atomic_store(&waiters[i].tid, 0);
        atomic_store(&waiters[i].rc, -1);
        CHECK(pthread_create(&waiters[i].thread, NULL, wait_thread, &waiters[i]) == 0);
    }
    for (int i = 0; i < WAITERS; i++) CHECK(wait_asleep(&waiters[i]));

    pthread_t getter;
    CHECK(pthread_create(&getter, NULL, get_thread, NULL) == 0);
    for (int i = 0; i < POLLS && !atomic_load(&mounted); i++) pause_10ms();
    CHECK(atomic_load(&mounted) == 1);

    /* Free with everyone still inside: lv_serve and lv_wait return LV_OK, the
     * callback's publishes all succeed, and nothing reads freed memory. */
    atomic_store(&freeing, 1);
    lv_app_free(app);

    pthread_join(getter, NULL);
    pthread_join(serving.thread, NULL);
    CHECK(atomic_load(&serving.rc) == LV_OK);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(waiters[i].thread, NULL);
        CHECK(atomic_load(&waiters[i].rc) == LV_OK);
    }
    CHECK(atomic_load(&published) > 0);
    CHECK(atomic_exchange(&published_after, 0) == AFTER_FREE_PUBLISHES);
    CHECK(atomic_load(&publish_errors) == 0);
}

int main(void) {
    for (int round = 0; round < ROUNDS; round++) round_trip();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
