/*
 * lv_shutdown is bounded by "shutdown_timeout_ms": a callback blocked on a gate does
 * not hold it. It returns LV_ERR_TIMEOUT naming how many host threads still run
 * callbacks (and logs it), lv_app_free returns at once too, and the late callback, once the gate
 * opens, may still publish on the app safely; its page is released when it ends.
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define TIMEOUT_MS 300
#define POLLS 1000 /* of 10 ms each: every wait below ends within 10 s */


static lv_app *app;
static char addr[64];
static atomic_int entered, gate_open, finished, late_publish = -1, drops, timeout_logged;

static void pause_10ms(void) {
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    nanosleep(&ms10, NULL);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Blocks until the test opens the gate (at most POLLS * 10 ms). */
static int on_mount(lv_ctx *ctx, const char *params_json, void *user) {
    (void)params_json;
    (void)user;
    atomic_store(&entered, 1);
    for (int i = 0; i < POLLS && !atomic_load(&gate_open); i++) pause_10ms();
    /* Resumed after lv_shutdown gave up and lv_app_free returned. */
    atomic_store(&late_publish, lv_publish(app, "late", "{\"ok\": true}"));
    int rc = lv_set_state(ctx, "{\"count\": 0}");
    atomic_store(&finished, 1);
    return rc;
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)ctx;
    (void)event_json;
    (void)user;
    return LV_OK;
}

static void drop_page(void *user) {
    (void)user;
    atomic_fetch_add(&drops, 1);
}

static void on_log(int level, const char *target, const char *message, void *user) {
    (void)target;
    (void)user;
    if (level == 2 && strstr(message, "host thread(s) still running callbacks")) atomic_store(&timeout_logged, 1);
}

static void *get_thread(void *arg) {
    (void)arg;
    http_get_discard(addr, "/gate");
    return NULL;
}

/* Library host threads still alive, by their names in /proc: once the late one has
 * exited, it has let go of the app (the last reference), so nothing is left for
 * valgrind to report. */
static int host_threads_alive(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return -1;
    int alive = 0;
    struct dirent *task;
    while ((task = readdir(tasks)) != NULL) {
        if (task->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "mizulive-host", 13) == 0) alive++;
        fclose(f);
    }
    closedir(tasks);
    return alive;
}

int main(void) {
    CHECK(lv_set_log_callback(on_log, NULL, NULL) == LV_OK);
    char options[256];
    snprintf(options, sizeof options,
             "{\"views\": \"views\", \"secret\": \"0123456789abcdef0123456789abcdef\", "
             "\"host_threads\": 2, \"shutdown_timeout_ms\": %d}",
             TIMEOUT_MS);
    app = lv_app_new(options);
    CHECK(app != NULL);
    if (!app) {
        printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount,
                    .on_event = on_event, .drop = drop_page};
    CHECK(lv_register_page(app, "/gate", &page) == LV_OK);
    CHECK(lv_start(app, "127.0.0.1:0") == LV_OK);
    CHECK(lv_local_addr(app, addr, sizeof addr) == LV_OK);

    pthread_t getter;
    CHECK(pthread_create(&getter, NULL, get_thread, NULL) == 0);
    for (int i = 0; i < POLLS && !atomic_load(&entered); i++) pause_10ms();
    CHECK(atomic_load(&entered) == 1);

    /* The callback is stuck: lv_shutdown gives up after the bound and says so. */
    double t0 = now_s();
    int rc = lv_shutdown(app);
    double took = now_s() - t0;
    CHECK(rc == LV_ERR_TIMEOUT);
    /* The stuck callback's thread, and any waiting behind it for the same session. */
    CHECK(strstr(lv_last_error(), "host thread(s) still running callbacks") != NULL);
    CHECK(atoi(lv_last_error() + strlen("timed out: ")) >= 1);
    CHECK(took >= TIMEOUT_MS / 1000.0 - 0.01);
    CHECK(took < TIMEOUT_MS / 1000.0 + 4.0);
    CHECK(atomic_load(&finished) == 0);
    CHECK(lv_wait(app, 0) == LV_OK);
    CHECK(lv_shutdown(app) == LV_OK); /* idempotent: already shut down */
    CHECK(atomic_load(&drops) == 0);  /* the stuck callback's page is still in use */

    t0 = now_s();
    lv_app_free(app);
    CHECK(now_s() - t0 < 2.0);

    /* The late callback finishes on its own thread, and may still publish. */
    atomic_store(&gate_open, 1);
    for (int i = 0; i < POLLS && !atomic_load(&finished); i++) pause_10ms();
    CHECK(atomic_load(&finished) == 1);
    CHECK(atomic_load(&late_publish) == LV_OK);
    for (int i = 0; i < POLLS && atomic_load(&drops) == 0; i++) pause_10ms();
    CHECK(atomic_load(&drops) == 1);
    for (int i = 0; i < POLLS && !atomic_load(&timeout_logged); i++) pause_10ms();
    CHECK(atomic_load(&timeout_logged) == 1);
    pthread_join(getter, NULL);
    CHECK(lv_set_log_callback(NULL, NULL, NULL) == LV_OK);
    /* The late thread ends on its own, freeing the app as it goes. */
    for (int i = 0; i < POLLS && host_threads_alive() != 0; i++) pause_10ms();
    CHECK(host_threads_alive() == 0);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
