/* What the C ABI test programs share. CHECK: a failed check is counted and printed
 * with its line and the library's last error, and the program goes on, so one run
 * reports every failure; each program prints `passed`/`failed` at the end. */
#ifndef MIZULIVE_TEST_CHECK_H
#define MIZULIVE_TEST_CHECK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mizulive.h"

static int passed, failed;

#define CHECK(cond)                                                                                 \
    do {                                                                                            \
        if (cond) {                                                                                 \
            passed++;                                                                               \
        } else {                                                                                    \
            failed++;                                                                               \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    lv_last_error());                                                               \
        }                                                                                           \
    } while (0)

/* CHECK that `expr` returns `code` and that the last error mentions `needle`. */
#define CHECK_ERR(expr, code, needle)                                                              \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        CHECK(rc_ == (code));                                                                      \
        CHECK(strstr(lv_last_error(), (needle)) != NULL);                                          \
    } while (0)

/* GETs `path` from `addr` ("127.0.0.1:port") and reads the answer to its end,
 * waiting at most 10 s for each read; what it says does not matter. */
static inline void http_get_discard(const char *addr, const char *path) {
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon) return;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval ten_s = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten_s, sizeof ten_s);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        char req[256], buf[4096];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr);
        if (write(fd, req, (size_t)len) == len) {
            while (read(fd, buf, sizeof buf) > 0) {
            }
        }
    }
    close(fd);
}

#endif
