package live_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// countingCounter is the counter page, counting its mounts.
type countingCounter struct {
	CounterPage
	mounts atomic.Int64
}

func (p *countingCounter) Mount(ctx *live.Ctx, s *live.Session[CounterState]) error {
	p.mounts.Add(1)
	return p.CounterPage.Mount(ctx, s)
}

// wrappedListener hands out conns of its own type, as a listener that limits or
// counts connections does: the handler cannot take their sockets and carries
// their WebSockets frame by frame.
type wrappedListener struct{ net.Listener }

type wrappedConn struct{ net.Conn }

func (l wrappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrappedConn{c}, nil
}

// A Go program serves live pages from its own net/http ServeMux, in process: the
// page handler and Mount's /_live/ routes behind the program's middleware, on the
// program's one port. A plain TCP connection's WebSocket is handed to the library;
// TLS that Go terminates and a wrapped listener's conns are carried frame by frame.
func TestHandlerServeMux(t *testing.T) {
	for _, server := range []string{"tcp", "wrapped listener", "tls"} {
		t.Run(server, func(t *testing.T) {
			before := livetest.ListeningPorts(t)
			opts := testOptions(false)
			opts.SecureCookies = server == "tls"
			lv, err := live.New(opts)
			must(t, err)
			t.Cleanup(func() { must(t, lv.Close()) })
			counter := &countingCounter{}
			h, err := live.PageHandler(lv, "/counter", counter)
			must(t, err)
			must(t, live.Register(lv, "/rooms/{room}", NewProbe()))

			mux := http.NewServeMux()
			mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello from Go")) })
			mux.Handle("/counter", h)
			lv.Mount(mux) // /_live/ and /rooms/{room}; /counter is already the program's
			srv := httptest.NewUnstartedServer(livetest.Gate(mux))
			switch server {
			case "tls":
				srv.StartTLS()
			case "wrapped listener":
				srv.Listener = wrappedListener{srv.Listener}
				srv.Start()
			default:
				srv.Start()
			}
			t.Cleanup(srv.Close)

			livetest.Embedded(t, srv.URL, counter.mounts.Load)
			contains(t, "own route", livetest.Get(t, srv.URL+"/hello").HTML, "hello from Go")
			if p := livetest.Get(t, srv.URL+"/nothing-here"); p.Status != http.StatusNotFound {
				t.Fatalf("unmounted path: %d", p.Status)
			}
			contains(t, "a page Mount mounted", livetest.Get(t, srv.URL+"/rooms/lobby").HTML, "room=lobby")

			// The library opened no port: only the program's server listens.
			if _, err := lv.Addr(); !errors.Is(err, live.ErrState) {
				t.Fatalf("the app has an address of its own: %v", err)
			}
			var opened []int
			for _, port := range livetest.ListeningPorts(t) {
				if !slices.Contains(before, port) {
					opened = append(opened, port)
				}
			}
			if want := []int{livetest.Port(t, srv.URL)}; !slices.Equal(opened, want) {
				t.Fatalf("ports opened: %v, want only the server's %v", opened, want)
			}
		})
	}
}

// A WebSocket upgrade whose connection cannot be taken over (HTTP/2, or a
// middleware's ResponseWriter that hides Hijack) is answered 501, naming why.
func TestHandlerWithoutHijack(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	t.Cleanup(func() { must(t, lv.Close()) })
	req := httptest.NewRequest(http.MethodGet, "/_live/websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	rec := httptest.NewRecorder()
	lv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), "HTTP/1.1") {
		t.Fatalf("an upgrade without Hijack: %d %q", rec.Code, rec.Body.String())
	}
}

// PageHandler fails like Register, with no handler.
func TestPageHandlerError(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	t.Cleanup(func() { must(t, lv.Close()) })
	h, err := live.PageHandler(lv, "no-slash", &CounterPage{})
	if err == nil || h != nil {
		t.Fatalf("a bad route: %v, %v", h, err)
	}
	if !errors.Is(err, live.ErrPage) {
		t.Fatalf("a bad route: %v, want ErrPage", err)
	}
}

// After Close the handler answers 503 and says why.
func TestHandlerAfterClose(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	must(t, live.Register(lv, "/counter", &CounterPage{}))
	must(t, lv.Close())
	rec := httptest.NewRecorder()
	lv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/counter", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "closed") {
		t.Fatalf("after Close: %d %q", rec.Code, rec.Body.String())
	}
	// A WebSocket's socket, taken from the Go server but refused by the closed
	// app, is closed at once: the browser sees the end and retries, and no
	// descriptor is left open.
	srv := httptest.NewServer(lv.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), livetest.Wait)
	defer cancel()
	ws, _, err := livetest.Dial(ctx, srv.URL+"/counter", srv.URL)
	if err == nil {
		ws.CloseNow()
		t.Fatal("a closed app accepted a WebSocket")
	}
	if ctx.Err() != nil {
		t.Fatalf("a WebSocket to a closed app was left hanging: %v", err)
	}
}

func TestMuxPattern(t *testing.T) {
	for route, want := range map[string]string{
		"/counter":       "/counter",
		"/rooms/{room}":  "/rooms/{room}",
		"/":              "/{$}",
		"/docs/":         "/docs/{$}",
		"/files/{*path}": "/files/{path...}",
	} {
		if got := live.MuxPattern(route); got != want {
			t.Errorf("MuxPattern(%q) = %q, want %q", route, got, want)
		}
	}
	for route, want := range map[string]string{
		"/counter":       "/counter",
		"/rooms/{room}":  "/rooms/{room}",
		"/":              "/",
		"/files/{*path}": "/files/*",
	} {
		if got := live.ChiPattern(route); got != want {
			t.Errorf("ChiPattern(%q) = %q, want %q", route, got, want)
		}
	}
}

// A form post past MaxFormBytes is refused with 413, however the body comes.
func TestHandlerFormLimit(t *testing.T) {
	opts := testOptions(false)
	opts.MaxFormBytes = 1024
	lv, err := live.New(opts)
	must(t, err)
	t.Cleanup(func() { must(t, lv.Close()) })
	must(t, live.Register(lv, "/counter", &CounterPage{}))
	mux := http.NewServeMux()
	lv.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	page := livetest.Get(t, srv.URL+"/counter")
	form := "_lv_token=" + page.Boot.Token + "&_csrf=" + page.Boot.CSRF + "&_lv_click=inc%3Fby%3D1&pad="
	for _, size := range []int{1024, 1025, 1 << 20} {
		body := form + strings.Repeat("x", size-len(form))
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/counter", strings.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if size > 1024 {
			req.ContentLength = -1 // chunked: the limit cannot come from Content-Length
		}
		got := livetest.Do(t, req)
		if want := map[bool]int{true: http.StatusSeeOther, false: http.StatusRequestEntityTooLarge}[size <= 1024]; got.Status != want {
			t.Fatalf("a %d-byte form: %d, want %d (%.200q)", size, got.Status, want, got.HTML)
		}
	}
}

// Frames up to MaxFrameBytes (64 KiB by default) reach the page, and a frame past
// it closes the socket (with 1009 where the close frame gets through), whether the
// library holds the socket or Go carries it.
func TestHandlerFrameLimit(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		lv, err := live.New(testOptions(false))
		must(t, err)
		t.Cleanup(func() { must(t, lv.Close()) })
		must(t, live.Register(lv, "/counter", &CounterPage{}))
		mux := http.NewServeMux()
		lv.Mount(mux)
		srv := httptest.NewUnstartedServer(mux)
		if wrapped {
			srv.Listener = wrappedListener{srv.Listener}
		}
		srv.Start()
		t.Cleanup(srv.Close)

		ctx, cancel := context.WithTimeout(context.Background(), livetest.Wait)
		defer cancel()
		ws, _, err := livetest.Dial(ctx, srv.URL+"/counter", srv.URL)
		must(t, err)
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		// 40000 bytes: over coder/websocket's default read limit, under the library's.
		must(t, ws.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 40000))))
		typ, answer, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageText || !strings.Contains(string(answer), `"bad_frame"`) {
			t.Fatalf("wrapped=%v: a 40000-byte frame did not reach the library: %v %.200q", wrapped, err, answer)
		}
		// The library's own socket may be reset under a frame it did not read: the
		// write, or the read, then fails without a close frame.
		_ = ws.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 64<<10+1)))
		_, _, err = ws.Read(ctx)
		got := websocket.CloseStatus(err)
		switch {
		case ctx.Err() != nil || err == nil:
			t.Fatalf("wrapped=%v: a socket stayed open after a frame past the limit: %v", wrapped, err)
		case got != websocket.StatusMessageTooBig && (wrapped || got != -1):
			t.Fatalf("wrapped=%v: a frame past the limit: %v (status %d), want a 1009 close", wrapped, err, got)
		}
	}
}
