/* The check macro the C ABI test programs share: a failed check is counted and
 * printed with its line and the library's last error, and the program goes on, so
 * one run reports every failure. Each program prints `passed`/`failed` at the end. */
#ifndef MIZULIVE_TEST_CHECK_H
#define MIZULIVE_TEST_CHECK_H

#include <stdio.h>

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

#endif
