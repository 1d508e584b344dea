package live_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

func registerProbe(t *testing.T, probe *ProbePage) func(*live.App) {
	return func(lv *live.App) {
		must(t, live.Register(lv, "/probe", probe))
		must(t, live.Register(lv, "/rooms/{room}", probe))
	}
}

// The counter's whole life: full page on GET, join, events patch only the marked
// regions, and the state carries over from event to event.
func TestCounterLifecycle(t *testing.T) {
	_, base := startApp(t, testOptions(false), func(lv *live.App) {
		must(t, live.Register(lv, "/counter", &CounterPage{}))
	})
	p := livetest.Get(t, base+"/counter")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /counter: %d", p.Status)
	}
	contains(t, "page", p.HTML, `<div id="lv-root" data-lv>`)
	contains(t, "page", p.HTML, `<strong id="count">0</strong>`)
	contains(t, "page", p.HTML, `data-lv-click="inc" data-lv-value-by="1"`)

	c := livetest.Join(t, p)
	if !c.Joined.Resumed {
		t.Fatalf("join did not adopt the GET's session: %s", c.Joined.Raw)
	}
	r := c.MustClick("inc", map[string]string{"by": "2"})
	contains(t, "stats", region(t, r, "stats"), `<strong id="count">2</strong>`)
	contains(t, "log", region(t, r, "log"), "<li>inc 2 → 2</li>")
	r = c.MustClick("dec", map[string]string{"by": "5"})
	contains(t, "stats", region(t, r, "stats"), `<strong id="count">-3</strong>`)
	contains(t, "log", region(t, r, "log"), "<li>inc 2 → 2</li><li>dec 5 → -3</li>")
	if seq := r.Patch(t).Seq; seq != 2 {
		t.Fatalf("second patch has seq %d, want 2", seq)
	}

	// A missing value is the page's error, not a crash.
	r = c.Click("inc", nil)
	if r.Reply.OK || r.Reply.Error.Code != "host_error" {
		t.Fatalf("inc without by: %s", r.Reply.Raw)
	}
	r = c.MustClick("inc", map[string]string{"by": "1"})
	contains(t, "stats", region(t, r, "stats"), `<strong id="count">-2</strong>`)
}

// Typed state survives the JSON round trip between callbacks: slices of structs,
// maps, pointers, and ReplaceState re-renders everything.
func TestTypedState(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	c := livetest.Open(t, base+"/probe")

	r := c.MustClick("add", map[string]string{"title": "milk"})
	contains(t, "n", region(t, r, "n"), "n=1")
	contains(t, "items", region(t, r, "items"), "<li>milk</li>")
	c.MustClick("add", map[string]string{"title": "eggs <b>"})
	r = c.MustClick("toggle", map[string]string{"i": "1"})
	contains(t, "items", region(t, r, "items"), "<li>milk</li><li>eggs &lt;b&gt; done</li>")
	if _, ok := r.Patch(t).Regions["n"]; ok {
		t.Fatalf("an unmarked region was sent: %s", r.Patch(t).Raw)
	}
	r = c.MustClick("toggle", map[string]string{"i": "1"})
	contains(t, "items", region(t, r, "items"), "<li>eggs &lt;b&gt;</li>")

	r = c.MustClick("replace", nil)
	contains(t, "n", region(t, r, "n"), "n=100")
	contains(t, "items", region(t, r, "items"), "<li>fresh</li>")
	r = c.MustClick("add", map[string]string{"title": "after"})
	contains(t, "n", region(t, r, "n"), "n=101")
}

// A failing or panicking callback gets an error reply, changes nothing, and the
// session lives on. The detail reaches the browser in dev mode only.
func TestErrorsAndPanics(t *testing.T) {
	for _, dev := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev=%v", dev), func(t *testing.T) {
			probe := NewProbe()
			_, base := startApp(t, testOptions(dev), registerProbe(t, probe))
			c := livetest.Open(t, base+"/probe")
			c.MustClick("add", map[string]string{"title": "a"})

			for _, ev := range []struct{ name, detail string }{
				{"fail", Detail},
				{"panic", "panic in Handle: assignment to entry in nil map"},
				{"badmark", `no region "nope"`},
				{"badmark2", `no region "nope2"`},
				{"longmark", `no region "` + LongID + `"`},
				{"toggle", "no value \"i\""},
			} {
				r := c.Click(ev.name, nil)
				if r.Reply.OK || r.Reply.Error == nil || r.Reply.Error.Code != "host_error" {
					t.Fatalf("%s: want a host_error reply, got %s", ev.name, r.Reply.Raw)
				}
				if len(r.Frames) != 0 {
					t.Fatalf("%s: a failed callback sent %s", ev.name, r.Frames[0].Raw)
				}
				if dev {
					contains(t, ev.name+" reply", r.Reply.Error.Message, ev.detail)
				} else {
					lacks(t, ev.name+" reply", r.Reply.Error.Message, ev.detail)
				}
			}
			// Each failure added 1000 to n before failing: none of it was kept.
			r := c.MustClick("add", map[string]string{"title": "b"})
			contains(t, "n", region(t, r, "n"), "n=2")
		})
	}
}

// Mount errors and panics answer the GET with 500; the app keeps serving.
func TestMountFailures(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	for _, room := range []string{"broken", "panic"} {
		if p := livetest.Get(t, base+"/rooms/"+room); p.Status != http.StatusInternalServerError {
			t.Fatalf("GET /rooms/%s: %d, want 500", room, p.Status)
		}
	}
	p := livetest.Get(t, base+"/rooms/lobby")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /rooms/lobby: %d", p.Status)
	}
	contains(t, "page", p.HTML, "room=lobby state.who=")
}

// Publishes from many goroutines reach every subscribed session, each publisher's
// messages in order.
func TestPublishFromManyGoroutines(t *testing.T) {
	const sessions, publishers, each = 3, 8, 25
	probe := NewProbe()
	lv, base := startApp(t, testOptions(false), registerProbe(t, probe))
	conns := make([]*livetest.Conn, sessions)
	for i := range conns {
		conns[i] = livetest.Open(t, base+"/probe")
	}
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for g := 0; g < publishers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 1; k <= each; k++ {
				if err := lv.Publish("probe:all", Note{From: fmt.Sprint("g", g), K: k}); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	want := fmt.Sprintf("n=%d", publishers*each)
	for i, c := range conns {
		for patches := 0; ; patches++ {
			f := c.Next()
			if f.T != "patch" {
				t.Fatalf("session %d: expected patches, got %s", i, f.Raw)
			}
			if strings.Contains(f.Regions["n"], want) {
				break
			}
			if patches > publishers*each {
				t.Fatalf("session %d: more patches than publishes", i)
			}
		}
	}
	if n := lv.SessionCount(); n != sessions {
		t.Fatalf("SessionCount = %d, want %d", n, sessions)
	}
}

// A timer fires into Info; a timer whose id was kept in the state can be cancelled
// by a later callback, and then never fires.
func TestTimers(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	c := livetest.Open(t, base+"/probe")
	c.MustClick("arm", nil)    // "cancelled" due in 300 ms
	c.MustClick("disarm", nil) // cancels it; "fired" due in 400 ms
	f := c.Expect("patch")
	// Timers fire in due order, so had the cancel failed, "cancelled" would be first.
	if got := strings.TrimSpace(f.Regions["got"]); got != "got=fired" {
		t.Fatalf("after the timers: %q", got)
	}
}

// Redirect, navigate, title, focus/scroll and flash reach the browser.
func TestCommands(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	c := livetest.Open(t, base+"/probe")

	if f := c.MustClick("redirect", nil).Find("redirect"); f == nil || f.To != "/elsewhere" {
		t.Fatalf("redirect: %+v", f)
	}
	if f := c.MustClick("navigate", nil).Find("navigate"); f == nil || f.To != "/rooms/b" || !f.Replace {
		t.Fatalf("navigate: %+v", f)
	}
	if p := c.MustClick("title", nil).Patch(t); p.Title == nil || *p.Title != "New title" {
		t.Fatalf("title: %s", p.Raw)
	}
	f := c.MustClick("focus", nil).Find("command")
	if f == nil || len(f.Cmds) != 2 || f.Cmds[0]["op"] != "focus" || f.Cmds[1]["block"] != "end" {
		t.Fatalf("command: %+v", f)
	}
	r := c.MustClick("flash", nil)
	contains(t, "flash", region(t, r, "flash"), "info=saved error=but not really")
}

// A Ctx kept past its callback, or used from another goroutine, fails cleanly.
func TestCtxOutsideItsCallback(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	c := livetest.Open(t, base+"/probe")
	c.MustClick("keep", nil)
	r := c.MustClick("stale", nil)
	got := region(t, r, "errors")
	parts := strings.Split(strings.TrimSpace(got), " | ")
	if len(parts) != 5 {
		t.Fatalf("errors region: %q", got)
	}
	contains(t, "stale Subscribe", parts[0], "Ctx used outside its callback")
	contains(t, "stale Redirect", parts[1], "Ctx used outside its callback")
	contains(t, "stale SessionID", parts[2], `id=&quot;&quot;`)
	contains(t, "Subscribe from a goroutine", parts[3], "ctx used outside its callback (or on another thread)")
	contains(t, "NUL byte", parts[4], "NUL byte")

	// Close from inside a callback is refused, not a deadlock.
	r = c.MustClick("close", nil)
	contains(t, "Close in a callback", region(t, r, "errors"), "cannot be called from a callback")
	c.MustClick("add", map[string]string{"title": "still alive"})
}

// The auth hook sees the request as an *http.Request and allows, redirects or
// denies; the user id it sets reaches Mount and the templates.
func TestAuth(t *testing.T) {
	probe := NewProbe()
	opts := testOptions(false)
	opts.Auth = func(r *http.Request) live.AuthResult {
		q := r.URL.Query()
		switch {
		case q.Get("deny") != "":
			return live.Deny()
		case q.Get("login") != "":
			return live.RedirectTo("/login?next=" + url.QueryEscape(r.URL.Path))
		case q.Get("panic") != "":
			panic("auth exploded")
		case q.Get("user") != "":
			return live.Allow(q.Get("user"))
		}
		if c, err := r.Cookie("session"); err == nil {
			return live.Allow("cookie:" + c.Value)
		}
		if r.Header.Get("X-Test") != "yes" || r.Method != http.MethodGet {
			return live.Deny()
		}
		return live.Allow("")
	}
	_, base := startApp(t, opts, registerProbe(t, probe))

	p := livetest.Get(t, base+"/probe?user=alice")
	if p.Status != http.StatusOK {
		t.Fatalf("allowed: %d", p.Status)
	}
	contains(t, "page", p.HTML, "user=alice room= state.who=alice")
	c := livetest.Join(t, p)
	c.MustClick("add", map[string]string{"title": "x"})

	req, _ := http.NewRequest(http.MethodGet, base+"/probe", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: "bob"})
	contains(t, "cookie user", livetest.Do(t, req).HTML, "user=cookie:bob")

	req, _ = http.NewRequest(http.MethodGet, base+"/probe", nil)
	req.Header.Set("X-Test", "yes")
	if p := livetest.Do(t, req); p.Status != http.StatusOK {
		t.Fatalf("anonymous with header: %d", p.Status)
	}
	if p := livetest.Get(t, base+"/probe"); p.Status != http.StatusForbidden {
		t.Fatalf("anonymous without header: %d, want 403", p.Status)
	}
	if p := livetest.Get(t, base+"/probe?deny=1"); p.Status != http.StatusForbidden {
		t.Fatalf("denied: %d, want 403", p.Status)
	}
	if p := livetest.Get(t, base+"/probe?panic=1"); p.Status != http.StatusForbidden {
		t.Fatalf("panicking hook: %d, want 403", p.Status)
	}
	p = livetest.Get(t, base+"/probe?login=1")
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login?next=%2Fprobe" {
		t.Fatalf("redirect: %d to %q", p.Status, p.Header.Get("Location"))
	}
}

// Registration failures are errors, and the library gives the handle back.
func TestRegisterErrors(t *testing.T) {
	before := live.LiveHandles()
	lv, err := live.New(testOptions(false))
	must(t, err)
	err = live.Register(lv, "/x", &viewPage{view: live.View{Page: "missing/page"}})
	if !errors.Is(err, live.ErrTemplate) {
		t.Fatalf("missing template: %v", err)
	}
	err = live.Register(lv, "/x", &viewPage{view: live.View{Page: "counter/index", Regions: map[string]string{"stats": "missing/partial"}}})
	if !errors.Is(err, live.ErrTemplate) {
		t.Fatalf("missing partial: %v", err)
	}
	if err = live.Register(lv, "no-slash", &CounterPage{}); !errors.Is(err, live.ErrPage) {
		t.Fatalf("bad route: %v", err)
	}
	if err = live.Register(lv, "/x", &viewPage{}); !errors.Is(err, live.ErrPage) {
		t.Fatalf("empty View: %v", err)
	}
	if err = live.Register(lv, "/x", &viewPage{}); err == nil || !strings.Contains(err.Error(), "/x: *live_test.viewPage.View() names no Page template") {
		t.Fatalf("empty View: %v", err)
	}
	if err = live.Register(lv, "/x", &viewPage{panics: true}); err == nil || !strings.Contains(err.Error(), "*live_test.viewPage.View() panicked: no view") {
		t.Fatalf("View panic: %v", err)
	}
	if got := live.LiveHandles(); got != before {
		t.Fatalf("handles after failed registrations: %d, want %d", got, before)
	}
	must(t, live.Register(lv, "/counter", &CounterPage{}))
	if got := live.LiveHandles(); got != before+1 {
		t.Fatalf("handles after a registration: %d, want %d", got, before+1)
	}
	if got := lv.Routes(); len(got) != 1 || got[0] != "/counter" {
		t.Fatalf("Routes: %v", got)
	}
	must(t, lv.Close())
	if got := live.LiveHandles(); got != before {
		t.Fatalf("handles after Close: %d, want %d (a drop did not run)", got, before)
	}
	if err := live.Register(lv, "/late", &CounterPage{}); !errors.Is(err, live.ErrState) {
		t.Fatalf("Register after Close: %v", err)
	}
}

// viewPage is a page that only describes itself.
type viewPage struct {
	view   live.View
	panics bool
}

func (p *viewPage) Mount(*live.Ctx, *live.Session[struct{}]) error { return nil }
func (p *viewPage) View() live.View {
	if p.panics {
		panic("no view")
	}
	return p.view
}
func (p *viewPage) Handle(*live.Ctx, *live.Session[struct{}], live.Event) error { return nil }
func (p *viewPage) Info(*live.Ctx, *live.Session[struct{}], live.Message) error { return nil }

// Close ends every session with Terminate("shutdown"), runs every drop, and is
// idempotent; the app refuses work afterwards.
func TestClose(t *testing.T) {
	before := live.LiveHandles()
	probe := NewProbe()
	lv, err := live.New(testOptions(false))
	must(t, err)
	must(t, live.Register(lv, "/probe", probe))
	must(t, lv.SetAuth(func(*http.Request) live.AuthResult { return live.Allow("") }))
	must(t, lv.Start("127.0.0.1:0"))
	addr, err := lv.Addr()
	must(t, err)
	c := livetest.Open(t, "http://"+addr+"/probe")
	c.MustClick("add", map[string]string{"title": "x"})

	waited := make(chan struct{})
	go func() { lv.Wait(); close(waited) }()
	must(t, lv.Close())
	<-waited
	select {
	case got := <-probe.terminated:
		if got != "shutdown n=1" {
			t.Fatalf("Terminate: %q", got)
		}
	default:
		t.Fatal("Close returned before Terminate ran")
	}
	if got := live.LiveHandles(); got != before {
		t.Fatalf("handles after Close: %d, want %d", got, before)
	}
	must(t, lv.Close())
	if err := lv.Publish("t", 1); !errors.Is(err, live.ErrState) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := lv.Addr(); !errors.Is(err, live.ErrState) {
		t.Fatalf("Addr after Close: %v", err)
	}
}

func TestOptionsAndRender(t *testing.T) {
	if _, err := live.New(live.Options{Views: views(), Secret: "short"}); !errors.Is(err, live.ErrConfig) {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := live.New(live.Options{Views: "testdata/no-such-views"}); err == nil {
		t.Fatal("a missing views folder was accepted")
	}
	// Every hardening option reaches the library under its own name (an unknown key
	// would be refused), and a bad value is the library's error.
	all := testOptions(false)
	all.PreviousSecrets = []string{strings.Repeat("p", 32)}
	all.PreviousSecretsTTL = time.Hour
	all.SecureCookies, all.TrustForwardedProto = true, true
	all.RedirectHosts = []string{"pay.example.com"}
	all.CSP, all.CSPExtra = "default-src 'self'", "img-src https:"
	all.ResumeBufferBytes, all.MaxStateBytes = 1<<16, 1<<18
	all.MaxUnjoinedSessions, all.MaxConnections, all.HostQueue = 10, 100, 8
	all.HeaderTimeout, all.BodyTimeout, all.KeepAliveTimeout, all.JoinTimeout = time.Second, time.Second, time.Second, time.Second
	all.SocketIdleTimeout = 2 * time.Minute
	all.ControlFramesPerSecond, all.ControlFrameBurst = 1, 2
	all.Redis = "redis://127.0.0.1:6379/0"
	full, err := live.New(all)
	must(t, err)
	full.Close()
	bad := testOptions(false)
	bad.RedirectHosts = []string{"https://pay.example.com/"}
	if _, err := live.New(bad); !errors.Is(err, live.ErrConfig) {
		t.Fatalf("a redirect host with a scheme: %v", err)
	}
	bad = testOptions(false)
	bad.Redis = "http://127.0.0.1:6379"
	if _, err := live.New(bad); !errors.Is(err, live.ErrConfig) {
		t.Fatalf("a redis URL with the wrong scheme: %v", err)
	}
	lv, err := live.New(testOptions(false))
	must(t, err)
	defer lv.Close()
	html, err := lv.Render("partials/counter/stats.html", map[string]any{"state": CounterState{Count: 7}})
	must(t, err)
	contains(t, "render", html, `<strong id="count">7</strong>`)
	if _, err := lv.Addr(); !errors.Is(err, live.ErrState) {
		t.Fatalf("Addr before Start: %v", err)
	}
	if err := lv.Publish("t", func() {}); err == nil {
		t.Fatal("publishing a func was accepted")
	}
	if live.Version() == "" {
		t.Fatal("no version")
	}
}

// Close while other goroutines are calling in: no lock in the binding orders them,
// the library keeps the app alive for calls in flight, and each call either works
// or reports ErrState.
func TestCloseWhileCalling(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	must(t, lv.Start("127.0.0.1:0"))
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; time.Now().Before(deadline); i++ {
				err := lv.Publish("t", i)
				if errors.Is(err, live.ErrState) {
					return
				}
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				lv.SessionCount()
			}
			t.Error("Close never stopped the publishing")
		}()
	}
	for g := 0; g < 4; g++ {
		<-started
	}
	must(t, lv.Close())
	wg.Wait()
	lv = nil
	runtime.GC() // runs the finalizer that frees the closed app
}
