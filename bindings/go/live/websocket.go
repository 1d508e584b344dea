//go:build cgo

package live

/*
#include "shim.h"
*/
import "C"

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// serveWebSocket takes over a WebSocket upgrade to /_live/websocket: its socket
// goes to the library (lv_ws_adopt) when it is a plain TCP connection; any other
// connection (TLS that Go terminates, a wrapped listener's conn) is carried frame
// by frame (carry.go). The library answers the upgrade either way, refusals
// included (403 for a foreign Origin, 503 past MaxConnections).
func (a *App) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	h := requestHead(r)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		a.logger.Error("mizulive: a WebSocket cannot be served on this connection: its ResponseWriter "+
			"cannot be hijacked (HTTP/2, or a middleware's writer without Unwrap); serve /_live/websocket "+
			"over HTTP/1.1", "writer", fmt.Sprintf("%T", w), "err", err)
		http.Error(w, "501 the live WebSocket needs an HTTP/1.1 connection the server can hand over: "+err.Error(),
			http.StatusNotImplemented)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		a.adopt(tcp, brw, &h)
		return
	}
	a.carry(conn, brw, r, &h)
}

// adopt hands the socket under tcp to the library, with the bytes the Go server
// read past the request head, and closes Go's end of it.
func (a *App) adopt(tcp *net.TCPConn, brw *bufio.ReadWriter, h *head) {
	fd, err := dupSocket(tcp)
	if err != nil {
		a.logger.Error("mizulive: cannot hand a WebSocket to the library", "err", err)
		writeRaw(tcp, http.StatusInternalServerError, nil, []byte("500 the live WebSocket could not be handed over\n"))
		tcp.Close()
		return
	}
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	// The library owns fd from here; Go's descriptor goes (the duplicate keeps
	// the connection open), taking it out of Go's poller.
	tcp.Close()
	hdr, hdrLen := h.cHeaders()
	pend, pendLen := bytesArg(pending)
	handed := false
	err = a.with(func(p *C.lv_app) C.int {
		handed = true
		return C.lvgo_ws_adopt(p, h.cMethod(), h.cTarget(), hdr, hdrLen, C.int(fd), pend, pendLen)
	})
	runtime.KeepAlive(h)
	runtime.KeepAlive(pending)
	if !handed {
		// The app was closed before the call: the descriptor is still ours.
		syscall.Close(fd)
	}
	if err != nil {
		// The library closed fd: the browser sees the connection end, and retries.
		a.logger.Error("mizulive: the library refused a WebSocket handed over", "err", err)
	}
}

// dupSocket duplicates the descriptor of a connection (close-on-exec, like Go's own).
func dupSocket(tcp *net.TCPConn) (int, error) {
	raw, err := tcp.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	err = raw.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			dupErr = fmt.Errorf("duplicating the socket: %w", errno)
			return
		}
		fd = int(r)
	})
	if err == nil {
		err = dupErr
	}
	return fd, err
}

// writeRaw answers on a hijacked connection: an HTTP/1.1 response whose header
// lines are given ("Name: value\r\n" each, or nil), with its length, and
// Connection: close.
func writeRaw(conn net.Conn, status int, lines []byte, body []byte) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for _, line := range strings.Split(string(lines), "\r\n") {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length", "connection", "transfer-encoding":
			continue
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	if lines == nil {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write(append([]byte(b.String()), body...))
}
