/*
 * __NAME__: serves its pages on $MIZULIVE_ADDR (default 127.0.0.1:3000) until Ctrl-C.
 *
 *   make run
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "pages.h"

int main(void) {
    if (lv_abi_version() != LV_ABI_VERSION) {
        fprintf(stderr, "libmizulive ABI %u, built for %d\n", lv_abi_version(), LV_ABI_VERSION);
        return 1;
    }
    /* SIGINT/SIGTERM blocked before the library starts its threads, so they inherit
     * the mask and only this thread receives them, through sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    /* MIZULIVE_DEV=1 turns dev mode on (detailed errors, the error overlay). */
    lv_app *app = lv_app_new(getenv("MIZULIVE_DEV") ? "{\"views\": \"views\", \"dev\": true}" : "{\"views\": \"views\"}");
    if (!app) {
        fprintf(stderr, "__NAME__: %s\n", lv_last_error());
        return 1;
    }
    if (pages_register(app) != LV_OK || lv_app_start(app, NULL) != LV_OK) {
        fprintf(stderr, "__NAME__: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    char addr[64];
    if (lv_app_local_addr(app, addr, sizeof addr) == LV_OK) {
        printf("__NAME__ on http://%s/counter and http://%s/list\n", addr, addr);
        fflush(stdout);
    }
    int sig = 0;
    sigwait(&stop, &sig);
    lv_app_shutdown(app);
    lv_app_free(app);
    return 0;
}
