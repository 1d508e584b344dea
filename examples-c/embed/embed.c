/*
 * The mizulive counter served from a socket this program owns: its own accept loop
 * reads each request and hands it to the library (lv_http), and gives the library
 * the socket of a WebSocket upgrade (lv_ws_adopt). The library opens no port.
 *
 *   make -C examples-c/embed run      (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)
 *
 * A real server would add TLS, access logs and its own routes in front; this one
 * keeps to what the library needs: a request head, its body, and the socket.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mizulive.h"

#define LOG_MAX 10
/* Largest request head read; a larger one gets 431. */
#define MAX_HEAD 16384
/* Largest body read: the library's own form limit is 1 MiB and answers 413 past it. */
#define MAX_BODY (1024 * 1024 + 1)
/* An idle keep-alive connection is closed after this many seconds. */
#define IDLE_SECONDS 5

static lv_app *app;
static atomic_int stopping;
static atomic_int connections;

/* ---- the page ------------------------------------------------------------------- */

static int on_mount(lv_ctx *ctx, const char *params_json, void *user_data) {
    (void)params_json;
    (void)user_data;
    return lv_set_state(ctx, "{\"count\": 0, \"log\": []}");
}

static int on_event(lv_ctx *ctx, const char *event_json, void *user_data) {
    (void)event_json;
    (void)user_data;
    const char *name = lv_event_name(ctx);
    int sign = strcmp(name, "inc") == 0 ? 1 : strcmp(name, "dec") == 0 ? -1 : 0;
    if (sign == 0) {
        return lv_error(ctx, "unknown event");
    }
    const char *by_text = lv_event_get(ctx, "by");
    long by = by_text ? strtol(by_text, NULL, 10) : 1;
    int64_t count = 0;
    if (lv_get_int(ctx, "/count", &count) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    count += sign * by;
    char entry[64];
    snprintf(entry, sizeof entry, "%s %ld → %lld", name, by, (long long)count);
    size_t entries = 0;
    if (lv_set_int(ctx, "/count", count) != LV_OK || lv_set_str(ctx, "/log/-", entry) != LV_OK ||
        lv_len(ctx, "/log", &entries) != LV_OK) {
        return lv_error(ctx, lv_last_error());
    }
    if (entries > LOG_MAX) {
        lv_remove(ctx, "/log/0");
    }
    lv_mark(ctx, "stats");
    lv_mark(ctx, "log");
    return LV_OK;
}

/* ---- the server ----------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void answer_error(int fd, const char *status) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    write_all(fd, buf, (size_t)n);
}

/* The value of header `name` in the header lines, copied into out; 0 if absent. */
static int header_value(const char *lines, const char *name, char *out, size_t cap) {
    size_t name_len = strlen(name);
    for (const char *line = lines; line && *line; line = strstr(line, "\r\n") ? strstr(line, "\r\n") + 2 : NULL) {
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *v = line + name_len + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= cap) len = cap - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return 1;
        }
    }
    return 0;
}

/* Sends a library response; `keep` adds nothing: the library's headers say it all. */
static int send_response(int fd, lv_response *resp, int close_after) {
    size_t headers_len = 0, body_len = 0;
    const char *headers = lv_response_headers(resp, &headers_len);
    const uint8_t *body = lv_response_body(resp, &body_len);
    char status[96];
    int n = snprintf(status, sizeof status, "HTTP/1.1 %u \r\n", (unsigned)lv_response_status(resp));
    char tail[96];
    int m = snprintf(tail, sizeof tail, "Content-Length: %zu\r\n%s\r\n", body_len,
                     close_after ? "Connection: close\r\n" : "");
    if (write_all(fd, status, (size_t)n) || write_all(fd, headers, headers_len) ||
        write_all(fd, tail, (size_t)m) || write_all(fd, body, body_len)) {
        return -1;
    }
    return 0;
}

/* Serves one connection: requests until it closes, idles, or hands over a WebSocket. */
static void *connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    struct timeval idle = {IDLE_SECONDS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    char *buf = malloc(MAX_HEAD + 1);
    size_t have = 0;
    int adopted = 0;
    while (buf && !atomic_load(&stopping)) {
        /* Read until the end of the head. */
        char *end = NULL;
        while (!(end = (have >= 4 ? strstr(buf, "\r\n\r\n") : NULL))) {
            if (have >= MAX_HEAD) {
                answer_error(fd, "431 Request Header Fields Too Large");
                goto done;
            }
            ssize_t n = read(fd, buf + have, MAX_HEAD - have);
            if (n <= 0) goto done;
            have += (size_t)n;
            buf[have] = 0;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        /* "METHOD TARGET HTTP/1.1\r\n" then the header lines. */
        char *line_end = strstr(buf, "\r\n");
        *line_end = 0;
        char *method = buf, *target = strchr(buf, ' ');
        if (!target) {
            answer_error(fd, "400 Bad Request");
            goto done;
        }
        *target++ = 0;
        char *version = strchr(target, ' ');
        if (version) *version = 0;
        char *lines = line_end + 2;
        size_t lines_len = (size_t)(end + 2 - lines);
        end[2] = 0; /* the header lines end with their last CRLF */

        char value[256];
        int upgrade = header_value(lines, "Upgrade", value, sizeof value) && strcasecmp(value, "websocket") == 0;
        lv_http_request req = {.method = method, .target = target, .headers = lines, .headers_len = lines_len};
        if (upgrade) {
            /* The socket is the library's from here on, bytes past the head included. */
            if (lv_ws_adopt(app, &req, fd, (const uint8_t *)buf + head_len, have - head_len) != LV_OK) {
                fprintf(stderr, "embed: %s\n", lv_last_error());
            }
            adopted = 1;
            goto done;
        }
        size_t body_len = header_value(lines, "Content-Length", value, sizeof value) ? strtoul(value, NULL, 10) : 0;
        if (body_len > MAX_BODY) body_len = MAX_BODY;
        uint8_t *body = malloc(body_len + 1);
        size_t got = have - head_len < body_len ? have - head_len : body_len;
        memcpy(body, buf + head_len, got);
        while (got < body_len) {
            ssize_t n = read(fd, body + got, body_len - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        req.body = body;
        req.body_len = got;
        int close_after = header_value(lines, "Connection", value, sizeof value) && strcasecmp(value, "close") == 0;
        lv_response *resp = NULL;
        int status = lv_http(app, &req, &resp);
        /* What followed this request on the connection moves to the front. */
        size_t used = head_len + (got < have - head_len ? got : have - head_len);
        memmove(buf, buf + used, have - used);
        have -= used;
        buf[have] = 0;
        free(body);
        if (status != LV_OK) {
            fprintf(stderr, "embed: %s\n", lv_last_error());
            answer_error(fd, status == LV_ERR_REQUEST ? "400 Bad Request" : "503 Service Unavailable");
            goto done;
        }
        int failed = send_response(fd, resp, close_after);
        lv_response_free(resp);
        if (failed || close_after || body_len == MAX_BODY) goto done;
    }
done:
    free(buf);
    if (!adopted) close(fd);
    atomic_fetch_sub(&connections, 1);
    return NULL;
}

static void *accept_loop(void *arg) {
    int listener = (int)(intptr_t)arg;
    while (!atomic_load(&stopping)) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            break; /* the listener was shut down */
        }
        atomic_fetch_add(&connections, 1);
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, connection, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&connections, 1);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

/* Binds "host:port" (port 0 picks one); writes the bound address to out. */
static int listen_on(const char *addr, char *out, size_t cap) {
    char host[128];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(sa.sin_port));
    return fd;
}

int main(void) {
    if (lv_abi_version() != LV_ABI_VERSION) {
        fprintf(stderr, "libmizulive ABI %u, built for %d\n", lv_abi_version(), LV_ABI_VERSION);
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *views = getenv("MIZULIVE_VIEWS");
    char options[512];
    snprintf(options, sizeof options, "{\"views\": \"%s\", \"dev\": %s}", views ? views : "../counter/views",
             getenv("MIZULIVE_DEV") ? "true" : "false");
    app = lv_app_new(options);
    if (!app) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        return 1;
    }
    lv_page page = {
        .template = "counter/index",
        .regions = "{\"stats\": \"counter/stats\", \"log\": \"counter/log\"}",
        .on_mount = on_mount,
        .on_event = on_event,
    };
    if (lv_app_register_page(app, "/counter", &page) != LV_OK) {
        fprintf(stderr, "mizulive: %s\n", lv_last_error());
        lv_app_free(app);
        return 1;
    }
    const char *want = getenv("MIZULIVE_ADDR");
    char addr[160];
    int listener = listen_on(want && *want ? want : "127.0.0.1:3000", addr, sizeof addr);
    if (listener < 0) {
        fprintf(stderr, "embed: cannot listen on %s\n", want ? want : "127.0.0.1:3000");
        lv_app_free(app);
        return 1;
    }
    pthread_t acceptor;
    pthread_create(&acceptor, NULL, accept_loop, (void *)(intptr_t)listener);
    printf("counter listening on http://%s/counter\n", addr);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    printf("stopping\n");
    atomic_store(&stopping, 1);
    shutdown(listener, SHUT_RDWR);
    pthread_join(acceptor, NULL);
    close(listener);
    /* Connections in a request finish it; idle ones time out within IDLE_SECONDS. */
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int i = 0; i < (IDLE_SECONDS + 5) * 50 && atomic_load(&connections) > 0; i++) {
        nanosleep(&tick, NULL);
    }
    lv_app_shutdown(app); /* adopted WebSockets are told to reconnect and closed */
    lv_app_free(app);
    return 0;
}
