/*
 * The transport for a host's own web server, as a C program sees it: lv_http with
 * good and malformed requests and NULLs, the response accessors, lv_ws_adopt's
 * ownership of the descriptor (closed on every path, answered on the socket), and a
 * frame-carried WebSocket (lv_ws_open / lv_ws_receive / lv_ws_next / lv_ws_close).
 * The app is never started: it opens no port.
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>

#include "check.h"

static int on_mount(lv_ctx *ctx, const char *params_json, void *user) {
    (void)params_json;
    (void)user;
    return lv_set_state(ctx, "{\"count\": 7}");
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user) {
    (void)event_json;
    (void)user;
    return lv_mark(ctx, "count");
}

/* The body of a response as a NUL-terminated copy (caller frees). */
static char *body_of(const lv_response *resp) {
    size_t len = 0;
    const uint8_t *body = lv_response_body(resp, &len);
    char *out = malloc(len + 1);
    memcpy(out, body, len);
    out[len] = 0;
    return out;
}

static int has_header(const lv_response *resp, const char *needle) {
    size_t len = 0;
    const char *headers = lv_response_headers(resp, &len);
    char *copy = malloc(len + 1);
    memcpy(copy, headers, len);
    copy[len] = 0;
    int found = strstr(copy, needle) != NULL;
    free(copy);
    return found;
}

static int contains(const char *data, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(data + i, needle, n) == 0) return 1;
    }
    return 0;
}

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

/* A connected pair of TCP sockets on loopback: [0] the client's, [1] the server's. */
static int tcp_pair(int out[2]) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&sa, sizeof sa) || listen(listener, 1) ||
        getsockname(listener, (struct sockaddr *)&sa, &len)) {
        close(listener);
        return -1;
    }
    out[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(out[0], (struct sockaddr *)&sa, sizeof sa)) {
        close(listener);
        return -1;
    }
    out[1] = accept(listener, NULL, NULL);
    close(listener);
    struct timeval ten_s = {10, 0};
    setsockopt(out[0], SOL_SOCKET, SO_RCVTIMEO, &ten_s, sizeof ten_s);
    return out[1] >= 0 ? 0 : -1;
}

/* Reads what the library wrote on the client's end until `needle` shows up. */
static int read_until(int fd, const char *needle, char *buf, size_t cap) {
    size_t have = 0;
    while (have + 1 < cap) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        if (strstr(buf, needle)) return 1;
    }
    buf[have] = 0;
    return 0;
}

static const char UPGRADE[] = "Host: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Cookie: lv_bid=0123456789abcdef0123456789abcdef\r\n";

int main(void) {
    lv_app *app = lv_app_new("{\"views\": \"views\", \"host_threads\": 1}");
    CHECK(app != NULL);
    lv_page page = {.template = "abi", .regions = "{\"count\": \"count\"}", .on_mount = on_mount, .on_event = on_event};
    CHECK(lv_register_page(app, "/abi", &page) == LV_OK);

    /* A page GET, answered without lv_start. */
    const char *get_headers = "Host: 127.0.0.1:9\r\nAccept: text/html\r\n";
    lv_http_request get = {.method = "GET", .target = "/abi?x=1", .headers = get_headers,
                           .headers_len = strlen(get_headers)};
    lv_response *resp = NULL;
    CHECK(lv_http(app, &get, &resp) == LV_OK);
    CHECK(lv_response_status(resp) == 200);
    CHECK(has_header(resp, "set-cookie: lv_bid="));
    CHECK(has_header(resp, "content-type: text/html; charset=utf-8\r\n"));
    char *body = body_of(resp);
    CHECK(strstr(body, "lv-boot") != NULL);
    free(body);
    lv_response_free(resp);
    char addr[64];
    CHECK_ERR(lv_local_addr(app, addr, sizeof addr), LV_ERR_STATE, "");

    /* Other paths answer as the library's own listener would. */
    lv_http_request missing = {.method = "GET", .target = "/nope"};
    CHECK(lv_http(app, &missing, &resp) == LV_OK);
    CHECK(lv_response_status(resp) == 404);
    lv_response_free(resp);
    const char *form = "_lv_token=x.y&_csrf=z&_lv_click=inc";
    lv_http_request post = {.method = "POST", .target = "/abi", .body = (const uint8_t *)form,
                            .body_len = strlen(form)};
    CHECK(lv_http(app, &post, &resp) == LV_OK);
    CHECK(lv_response_status(resp) == 403);
    lv_response_free(resp);

    /* Malformed requests and NULLs are refused by name; *out stays NULL. */
    resp = (lv_response *)&get;
    lv_http_request bad_method = {.method = "GE T", .target = "/abi"};
    CHECK_ERR(lv_http(app, &bad_method, &resp), LV_ERR_REQUEST, "not an HTTP method");
    CHECK(resp == NULL);
    lv_http_request bad_target = {.method = "GET", .target = "abi"};
    CHECK_ERR(lv_http(app, &bad_target, &resp), LV_ERR_REQUEST, "must be a path");
    const char *bad_line = "Host 127.0.0.1\r\n";
    lv_http_request bad_header = {.method = "GET", .target = "/abi", .headers = bad_line,
                                  .headers_len = strlen(bad_line)};
    CHECK_ERR(lv_http(app, &bad_header, &resp), LV_ERR_REQUEST, "has no ':'");
    lv_http_request null_body = {.method = "POST", .target = "/abi", .body_len = 3};
    CHECK_ERR(lv_http(app, &null_body, &resp), LV_ERR_NULL, "req->body is NULL");
    lv_http_request null_method = {.target = "/abi"};
    CHECK_ERR(lv_http(app, &null_method, &resp), LV_ERR_NULL, "req->method");
    CHECK_ERR(lv_http(app, NULL, &resp), LV_ERR_NULL, "req is NULL");
    CHECK_ERR(lv_http(app, &get, NULL), LV_ERR_NULL, "out is NULL");
    CHECK_ERR(lv_http(NULL, &get, &resp), LV_ERR_NULL, "app is NULL");
    size_t len = 99;
    CHECK(lv_response_status(NULL) == 0);
    CHECK(lv_response_headers(NULL, &len) == NULL && len == 0);
    CHECK(lv_response_body(NULL, NULL) == NULL);
    lv_response_free(NULL);

    /* lv_ws_adopt owns the descriptor on every path. */
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);
    lv_http_request upgrade = {.method = "GET", .target = "/_live/websocket", .headers = UPGRADE,
                               .headers_len = strlen(UPGRADE)};
    CHECK_ERR(lv_ws_adopt(app, &upgrade, pipe_fds[0], NULL, 0), LV_ERR_REQUEST, "not a connected TCP socket");
    CHECK(!fd_is_open(pipe_fds[0]));
    close(pipe_fds[1]);
    CHECK_ERR(lv_ws_adopt(app, &upgrade, -1, NULL, 0), LV_ERR_REQUEST, "not a file descriptor");
    int pair[2];
    CHECK(tcp_pair(pair) == 0);
    CHECK_ERR(lv_ws_adopt(NULL, &upgrade, pair[1], NULL, 0), LV_ERR_NULL, "app is NULL");
    CHECK(!fd_is_open(pair[1]));
    close(pair[0]);

    /* Without an Origin the library answers 403 on the socket itself... */
    char buf[4096];
    CHECK(tcp_pair(pair) == 0);
    CHECK(lv_ws_adopt(app, &upgrade, pair[1], NULL, 0) == LV_OK);
    CHECK(read_until(pair[0], "\r\n\r\n", buf, sizeof buf));
    CHECK(strncmp(buf, "HTTP/1.1 403", 12) == 0);
    close(pair[0]);
    /* ...and with its own origin it switches protocols. */
    char with_origin[512];
    snprintf(with_origin, sizeof with_origin, "%sOrigin: http://127.0.0.1:9\r\n", UPGRADE);
    lv_http_request good = {.method = "GET", .target = "/_live/websocket", .headers = with_origin,
                            .headers_len = strlen(with_origin)};
    CHECK(tcp_pair(pair) == 0);
    CHECK(lv_ws_adopt(app, &good, pair[1], NULL, 0) == LV_OK);
    CHECK(read_until(pair[0], "\r\n\r\n", buf, sizeof buf));
    CHECK(strncmp(buf, "HTTP/1.1 101", 12) == 0);
    CHECK(strstr(buf, "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL);
    close(pair[0]);

    /* A frame-carried socket: a foreign Origin is a refusal to answer instead. */
    lv_ws *ws = NULL;
    lv_response *refusal = NULL;
    CHECK(lv_ws_open(app, &upgrade, 7, &ws, &refusal) == LV_OK);
    CHECK(ws == NULL && refusal != NULL && lv_response_status(refusal) == 403);
    lv_response_free(refusal);
    CHECK(lv_ws_open(app, &good, 7, &ws, &refusal) == LV_OK);
    CHECK(ws != NULL && refusal == NULL);
    CHECK_ERR(lv_ws_open(app, &good, 7, NULL, &refusal), LV_ERR_NULL, "must not be NULL");
    /* A join with a bad token: the library answers with an error, then a close. */
    const char *join = "{\"t\":\"join\",\"v\":4,\"token\":\"x.y\",\"url\":\"/abi\",\"seq\":0}";
    CHECK(lv_ws_receive(ws, (const uint8_t *)join, strlen(join), 0) == LV_OK);
    lv_ws_frame frame;
    CHECK(lv_ws_next(app, 5000, &frame) == LV_OK);
    CHECK(frame.tag == 7 && frame.close_code == 0);
    CHECK(frame.len > 0 && contains(frame.data, frame.len, "token_invalid"));
    CHECK(lv_ws_next(app, 5000, &frame) == LV_OK);
    CHECK(frame.tag == 7 && frame.close_code == 1008);
    CHECK_ERR(lv_ws_receive(ws, (const uint8_t *)"{}", 2, 0), LV_ERR_STATE, "closed");
    lv_ws_close(ws);
    /* Text frames must be UTF-8; NULLs are refused. */
    CHECK(lv_ws_open(app, &good, 8, &ws, &refusal) == LV_OK);
    CHECK_ERR(lv_ws_receive(ws, (const uint8_t *)"\xff", 1, 0), LV_ERR_REQUEST, "UTF-8");
    CHECK_ERR(lv_ws_receive(ws, NULL, 4, 0), LV_ERR_NULL, "data is NULL");
    CHECK_ERR(lv_ws_receive(NULL, (const uint8_t *)"{}", 2, 0), LV_ERR_NULL, "ws is NULL");
    lv_ws_close(ws);
    lv_ws_close(NULL);
    /* Closing it told the library: its end closes too. */
    CHECK(lv_ws_next(app, 5000, &frame) == LV_OK);
    CHECK(frame.tag == 8 && frame.close_code != 0);
    CHECK_ERR(lv_ws_next(app, 50, &frame), LV_ERR_TIMEOUT, "no WebSocket frame");
    CHECK_ERR(lv_ws_next(app, 50, NULL), LV_ERR_NULL, "out is NULL");

    CHECK(lv_shutdown(app) == LV_OK);
    CHECK_ERR(lv_http(app, &get, &resp), LV_ERR_STATE, "shut down");
    CHECK_ERR(lv_ws_next(app, 50, &frame), LV_ERR_STATE, "shut down");
    CHECK(tcp_pair(pair) == 0);
    CHECK_ERR(lv_ws_adopt(app, &good, pair[1], NULL, 0), LV_ERR_STATE, "shut down");
    CHECK(!fd_is_open(pair[1]));
    close(pair[0]);
    lv_app_free(app);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
