package live_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// A Go program mounts live pages in its own router next to its own routes; pages,
// the runtime script, the WebSocket and no-JS form posts all work through it.
func TestHandlerMounting(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	t.Cleanup(func() { must(t, lv.Close()) })
	must(t, live.Register(lv, "/counter", &CounterPage{}))
	probe := NewProbe()
	must(t, live.Register(lv, "/rooms/{room}", probe))

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello from Go")) })
	lv.Mount(mux) // starts the library on a private loopback port
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	core, err := lv.Addr()
	must(t, err)
	if "http://"+core == srv.URL {
		t.Fatal("the Go server and the library share an address")
	}
	contains(t, "own route", livetest.Get(t, srv.URL+"/hello").HTML, "hello from Go")
	if p := livetest.Get(t, srv.URL+"/nothing-here"); p.Status != http.StatusNotFound {
		t.Fatalf("unmounted path: %d", p.Status)
	}
	js := livetest.Get(t, srv.URL+"/_live/runtime.js")
	if js.Status != http.StatusOK || len(js.HTML) < 100 {
		t.Fatalf("runtime.js through the handler: %d, %d bytes", js.Status, len(js.HTML))
	}
	contains(t, "room page", livetest.Get(t, srv.URL+"/rooms/lobby").HTML, "room=lobby")

	// The socket goes through the Go server, with the Go server's origin.
	c := livetest.Open(t, srv.URL+"/counter")
	r := c.MustClick("inc", map[string]string{"by": "3"})
	contains(t, "stats", region(t, r, "stats"), `<strong id="count">3</strong>`)

	// Another origin is still refused.
	ctx, cancel := context.WithTimeout(context.Background(), livetest.Wait)
	defer cancel()
	ws, resp, err := livetest.Dial(ctx, srv.URL+"/counter", "http://evil.example")
	if err == nil {
		ws.CloseNow()
		t.Fatal("a cross-origin WebSocket was accepted through the handler")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin WebSocket: %v (%v)", resp, err)
	}

	// With JavaScript off, a button posts the form; the event runs and the
	// answer is a 303 back to the page.
	page := livetest.Get(t, srv.URL+"/counter")
	post := livetest.PostForm(t, srv.URL+"/counter", url.Values{
		"_lv_token": {page.Boot.Token}, "_csrf": {page.Boot.CSRF}, "_lv_click": {"inc?by=1"},
	})
	if post.Status != http.StatusSeeOther {
		t.Fatalf("no-JS post: %d %.200q", post.Status, post.HTML)
	}
	bad := livetest.PostForm(t, srv.URL+"/counter", url.Values{"_lv_token": {page.Boot.Token}, "_lv_click": {"inc?by=1"}})
	if bad.Status != http.StatusForbidden {
		t.Fatalf("no-JS post without CSRF: %d", bad.Status)
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
}
