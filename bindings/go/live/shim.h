/*
 * The C half of the Go binding. Go cannot store a Go function in a C function
 * pointer (golang/go#11263), so these trampolines stand between libmizulive's
 * callbacks and the //export-ed Go functions in exports.go.
 *
 * user_data is always a handle (handles.go): an integer, never a Go pointer. It
 * crosses as uintptr_t so Go never converts an integer to unsafe.Pointer.
 */
#ifndef MIZULIVE_GO_SHIM_H
#define MIZULIVE_GO_SHIM_H

#include <stdint.h>
#include <stdlib.h>

#include "mizulive.h"

/* lv_app_register_page with the Go trampolines; on_close only when with_close. On
 * success the library owns `handle` and drops it through goLvDrop. */
int lvgo_register_page(lv_app *app, const char *route, const char *tmpl, const char *regions,
                       const char *layout, int with_close, uintptr_t handle);

/* lv_set_state_cache with the Go drop trampoline: the library owns `handle` once it
 * is kept and drops it through goLvDrop. */
int lvgo_set_state_cache(lv_ctx *ctx, uintptr_t handle);

/* What a callback that succeeded hands the library, in one call instead of one per
 * step: the state's JSON (NULL when it did not change), then lv_mark_all when
 * mark_all, then lv_mark for each of the n region ids in `marks` (marks_len bytes, the
 * ids one after another with a NUL between them, none after the last: Go passes a
 * single id without copying it), then lvgo_set_state_cache when `cache` is not 0.
 * Returns LV_OK, or for the first step that fails its status | step << 8, the step
 * being LVGO_STATE, LVGO_MARK_ALL, LVGO_MARK or LVGO_CACHE. The caller reads
 * lv_last_error on the same thread. */
enum { LVGO_STATE = 1, LVGO_MARK_ALL, LVGO_MARK, LVGO_CACHE };
int lvgo_commit(lv_ctx *ctx, const char *state, int mark_all, const char *marks, size_t marks_len,
                size_t n, uintptr_t cache);

/* lv_app_set_auth with the Go trampoline. */
int lvgo_set_auth(lv_app *app, uintptr_t handle);

/* lv_set_log_callback with the Go trampoline. */
int lvgo_set_log(uintptr_t handle);

/* lv_http, lv_ws_adopt and lv_ws_open with the request's parts as arguments: the
 * lv_http_request is built on the C stack, because a Go struct holding pointers to Go
 * memory may not be passed to C. Every pointer is borrowed for the call only. */
int lvgo_http(lv_app *app, const char *method, const char *target, const char *headers,
              size_t headers_len, const uint8_t *body, size_t body_len, lv_response **out);
int lvgo_ws_adopt(lv_app *app, const char *method, const char *target, const char *headers,
                  size_t headers_len, int fd, const uint8_t *pending, size_t pending_len);
int lvgo_ws_open(lv_app *app, const char *method, const char *target, const char *headers,
                 size_t headers_len, uint64_t tag, lv_ws **ws, lv_response **refusal);

#endif
