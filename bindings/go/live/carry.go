//go:build cgo

package live

/*
#include "shim.h"
*/
import "C"

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/coder/websocket"
)

// A WebSocket whose connection cannot be handed to the library (TLS that Go
// terminates, a listener that wraps its conns) is carried frame by frame: the
// library checks the upgrade (lv_ws_open), Go speaks the WebSocket protocol with
// coder/websocket, each frame the browser sends goes in through lv_ws_receive,
// and one goroutine per app takes the frames to send from lv_ws_next and hands
// each to its socket's writer.

// carriedQueue is how many frames may wait for a carried socket's writer: a
// browser that reads slower than its page patches is dropped, as the library
// drops one on its own sockets.
const carriedQueue = 256

// carriedSockets are an app's carried WebSockets, by tag.
type carriedSockets struct {
	mu      sync.Mutex
	sockets map[uint64]*carriedSocket
	nextTag uint64
	pumping bool
}

type carriedSocket struct {
	conn *websocket.Conn
	out  chan carriedFrame
}

// carriedFrame is a text frame to send, or (code != 0) the close frame to end with.
type carriedFrame struct {
	code uint16
	data string
}

func (a *App) carry(conn net.Conn, brw *bufio.ReadWriter, r *http.Request, h *head) {
	cs := &a.carried
	sock := &carriedSocket{out: make(chan carriedFrame, carriedQueue)}
	cs.mu.Lock()
	if cs.sockets == nil {
		cs.sockets = map[uint64]*carriedSocket{}
	}
	cs.nextTag++
	tag := cs.nextTag
	// Registered before the library knows the tag, so no frame of it is missed.
	cs.sockets[tag] = sock
	startPump := !cs.pumping
	cs.pumping = true
	cs.mu.Unlock()
	forget := func() {
		cs.mu.Lock()
		delete(cs.sockets, tag)
		cs.mu.Unlock()
	}
	if startPump {
		go a.pump()
	}

	hdr, hdrLen := h.cHeaders()
	var ws *C.lv_ws
	var refusal *C.lv_response
	err := a.with(func(p *C.lv_app) C.int {
		return C.lvgo_ws_open(p, h.cMethod(), h.cTarget(), hdr, hdrLen, C.uint64_t(tag), &ws, &refusal)
	})
	runtime.KeepAlive(h)
	if err != nil || refusal != nil {
		forget()
		if err != nil {
			a.logger.Error("mizulive: the library refused a WebSocket", "err", err)
			writeRaw(conn, http.StatusServiceUnavailable, nil, []byte("503 "+err.Error()+"\n"))
		} else {
			writeResponse(conn, refusal)
			C.lv_response_free(refusal)
		}
		conn.Close()
		return
	}
	// The library checked the Origin already (and knows the allowed ones).
	c, err := websocket.Accept(&hijacked{conn: conn, brw: brw, header: http.Header{}}, r,
		&websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		forget()
		C.lv_ws_close(ws)
		a.logger.Warn("mizulive: accepting a carried WebSocket failed", "err", err)
		_ = brw.Flush()
		conn.Close()
		return
	}
	// A frame past the limit still reaches the library, which closes with 1009.
	c.SetReadLimit(a.maxFrame + 1)
	cs.mu.Lock()
	sock.conn = c
	cs.mu.Unlock()
	go sock.write()

	for {
		typ, data, err := c.Read(context.Background())
		if err != nil {
			break
		}
		binary := C.int(0)
		if typ == websocket.MessageBinary {
			binary = 1
		}
		p, n := bytesArg(data)
		if rc := C.lv_ws_receive(ws, p, n, binary); rc == C.LV_ERR_STATE {
			break
		}
		// LV_ERR_BUSY: the library closes the socket; its close frame follows.
		runtime.KeepAlive(data)
	}
	forget()
	close(sock.out)
	C.lv_ws_close(ws)
	c.CloseNow()
}

// write sends a carried socket's frames in order, and ends it on a close frame.
func (s *carriedSocket) write() {
	for f := range s.out {
		if f.code != 0 {
			// Close sends the close frame and waits for the browser's answer; the
			// reader then sees the end.
			_ = s.conn.Close(websocket.StatusCode(f.code), f.data)
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.conn.Write(ctx, websocket.MessageText, []byte(f.data))
		cancel()
		if err != nil {
			s.conn.CloseNow()
			break
		}
	}
	for range s.out {
	}
}

// pump takes the frames for every carried socket of the app until it is closed.
func (a *App) pump() {
	// A frame's data stays valid until the next lv_ws_next on the same thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cs := &a.carried
	for {
		var f C.lv_ws_frame
		err := a.with(func(p *C.lv_app) C.int { return C.lv_ws_next(p, 1000, &f) })
		if err == nil {
			frame := carriedFrame{code: uint16(f.close_code), data: C.GoStringN(f.data, C.int(f.len))}
			cs.mu.Lock()
			sock := cs.sockets[uint64(f.tag)]
			var slow *websocket.Conn
			if sock != nil {
				select {
				case sock.out <- frame:
				default:
					slow = sock.conn
				}
			}
			cs.mu.Unlock()
			if slow != nil {
				a.logger.Warn("mizulive: a carried WebSocket's browser reads too slowly: dropped")
				slow.CloseNow()
			}
			continue
		}
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if !errors.Is(err, ErrState) {
			a.logger.Error("mizulive: taking frames for carried WebSockets failed", "err", err)
		}
		// The app is closed: end every carried socket.
		cs.mu.Lock()
		for _, sock := range cs.sockets {
			if sock.conn != nil {
				sock.conn.CloseNow()
			}
		}
		cs.pumping = false
		cs.mu.Unlock()
		return
	}
}

// writeResponse writes a library response on a hijacked connection.
func writeResponse(conn net.Conn, resp *C.lv_response) {
	var hn, bn C.size_t
	hp := C.lv_response_headers(resp, &hn)
	bp := C.lv_response_body(resp, &bn)
	lines := []byte{}
	if hp != nil {
		lines = C.GoBytes(unsafe.Pointer(hp), C.int(hn))
	}
	var body []byte
	if bp != nil {
		body = C.GoBytes(unsafe.Pointer(bp), C.int(bn))
	}
	writeRaw(conn, int(C.lv_response_status(resp)), lines, body)
}

// hijacked is the ResponseWriter websocket.Accept writes its 101 to when the
// connection is already hijacked: the status line and headers go to the
// connection's buffered writer.
type hijacked struct {
	conn   net.Conn
	brw    *bufio.ReadWriter
	header http.Header
	wrote  bool
}

func (h *hijacked) Header() http.Header { return h.header }

func (h *hijacked) WriteHeader(status int) {
	if h.wrote {
		return
	}
	h.wrote = true
	fmt.Fprintf(h.brw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.header.Write(h.brw)
	_, _ = h.brw.WriteString("\r\n")
}

func (h *hijacked) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.brw.Write(b)
}

func (h *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, h.brw, h.brw.Flush()
}
