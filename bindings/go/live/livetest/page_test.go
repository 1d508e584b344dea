package livetest_test

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/livetest"
)

type shopState struct {
	Count int      `json:"count"`
	Items []string `json:"items"`
	Seen  []string `json:"seen"`
}

// shopPage counts, fails on "boom", redirects on "away" and shares what is
// added on the topic "items", which every shop page appends.
type shopPage struct {
	// page is the test's client, for a callback that calls it (refused).
	mu        sync.Mutex
	page      *livetest.Page
	reentered chan error
}

func (*shopPage) View() live.View {
	return live.View{Page: "t/shop", Regions: map[string]string{"stats": "t/stats", "items": "t/items"}}
}

func (*shopPage) Mount(ctx *live.Ctx, s *live.Session[shopState]) error {
	s.State = shopState{Items: []string{}}
	return ctx.Subscribe("items")
}

func (p *shopPage) Handle(ctx *live.Ctx, s *live.Session[shopState], e live.Event) error {
	switch e.Name {
	case "inc":
		by, err := e.Int("by")
		if err != nil {
			return err
		}
		s.State.Count += by
		s.Mark("stats")
		return nil
	case "boom":
		return fmt.Errorf("boom at %d", s.State.Count)
	case "away":
		return ctx.Redirect("/other")
	case "add":
		return ctx.Publish("items", e.Text("text")+" "+e.Text("color"))
	case "search", "key", "in", "out", "typed":
		s.State.Seen = append(s.State.Seen, fmt.Sprintf("%s %s field=%s key=%s q=%s", e.Type, e.Name, e.Field, e.Key, e.Form.Get("q")))
		return nil
	case "reenter":
		p.mu.Lock()
		page := p.page
		p.mu.Unlock()
		if e.Values["x"] == "1" {
			page.Click("#inc") // the X form: t.Errorf, not t.Fatalf, on this library thread
			p.reentered <- nil
			return nil
		}
		p.reentered <- page.TryClick("#inc")
		return nil
	}
	return fmt.Errorf("unknown event %q", e.Name)
}

func (*shopPage) Info(ctx *live.Ctx, s *live.Session[shopState], msg live.Message) error {
	var item string
	if err := msg.Decode(&item); err != nil {
		return err
	}
	s.State.Items = append(s.State.Items, item)
	s.Mark("items")
	return nil
}

type otherPage struct{}

func (otherPage) View() live.View                                             { return live.View{Page: "t/other"} }
func (otherPage) Mount(*live.Ctx, *live.Session[struct{}]) error              { return nil }
func (otherPage) Handle(*live.Ctx, *live.Session[struct{}], live.Event) error { return nil }
func (otherPage) Info(*live.Ctx, *live.Session[struct{}], live.Message) error { return nil }

// newShop returns a dev-mode app with /shop and /other, closed when the test ends
// (after the pages opened in the test: cleanups run last first).
func newShop(t *testing.T) (*live.App, *shopPage) {
	t.Helper()
	lv, err := live.New(live.Options{Views: filepath.Join("testdata", "views"), Dev: true,
		Secret: "mizulive-livetest-tests-secret-0123456789", HostThreads: 2, IOThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	shop := &shopPage{reentered: make(chan error, 1)}
	if err := live.Register(lv, "/shop", shop); err != nil {
		t.Fatal(err)
	}
	if err := live.Register[struct{}](lv, "/other", otherPage{}); err != nil {
		t.Fatal(err)
	}
	return lv, shop
}

func TestClickChangesTheRegionAndTheTypedState(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	if got := page.Region("stats"); got != "<p>count=0</p>" {
		t.Fatalf("stats before: %q", got)
	}
	page.Click("#inc")
	page.Click("button[data-lv-click=inc]")
	if got := page.Region("stats"); got != "<p>count=4</p>" {
		t.Fatalf("stats after two clicks by 2: %q", got)
	}
	if got := page.Text("#stats"); got != "count=4" {
		t.Fatalf("text: %q", got)
	}
	if html := page.HTML(""); !strings.Contains(html, "<title>livetest</title>") ||
		!strings.Contains(html, `<div id="stats"><p>count=4</p></div>`) {
		t.Fatalf("the whole page:\n%s", html)
	}
	var st shopState
	page.State(&st)
	if st.Count != 4 || st.Items == nil || len(st.Items) != 0 {
		t.Fatalf("state: %+v", st)
	}
	if got := page.Title(); got != "livetest" {
		t.Fatalf("title: %q", got)
	}
	if f := page.Flash(); len(f) != 0 {
		t.Fatalf("flash: %v", f)
	}
}

func TestSubmitFillsTheFormAndThePublishReachesEveryPage(t *testing.T) {
	lv, _ := newShop(t)
	a := livetest.Open(t, lv, "/shop")
	b := livetest.Open(t, lv, "/shop")
	a.Submit("#add", map[string]any{"text": "milk", "color": "blue"})
	for name, p := range map[string]*livetest.Page{"a": a, "b": b} {
		push := p.NextPush(5 * time.Second)
		if push.Type != "patch" || push.Regions["items"] != "<li>milk blue</li>" {
			t.Fatalf("%s's push: %s", name, push)
		}
		if got := p.Region("items"); got != "<li>milk blue</li>" {
			t.Fatalf("%s's items: %q", name, got)
		}
		var st shopState
		p.State(&st)
		if len(st.Items) != 1 || st.Items[0] != "milk blue" {
			t.Fatalf("%s's state: %+v", name, st)
		}
		p.NoPush(100 * time.Millisecond)
	}

	// A field the form does not have is the test's mistake, named.
	err := a.TrySubmit("#add", map[string]any{"txt": "x"})
	var le *live.Error
	if !errors.As(err, &le) || le.Code != live.ErrNotFound || !strings.Contains(le.Message, "txt") {
		t.Fatalf("a field the form lacks: %v", err)
	}
}

func TestAPublishFromTheTestIsANextPush(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	if _, err := page.TryNextPush(50 * time.Millisecond); !errors.Is(err, live.ErrTimeout) {
		t.Fatalf("no push yet: %v", err)
	}
	if err := lv.Publish("items", "tea"); err != nil {
		t.Fatal(err)
	}
	push := page.NextPush(5 * time.Second)
	if push.Type != "patch" || push.Regions["items"] != "<li>tea</li>" || push.Frame["t"] != "patch" {
		t.Fatalf("push: %s", push)
	}
}

func TestATypoInASelectorIsNamed(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	err := page.TryClick("[data-lv-click=incr]")
	var le *live.Error
	if !errors.As(err, &le) || le.Code != live.ErrNotFound {
		t.Fatalf("a typo: %v", err)
	}
	for _, want := range []string{`"[data-lv-click=incr]"`, `"inc"`, `"boom"`} {
		if !strings.Contains(le.Message, want) {
			t.Fatalf("the message lacks %s: %s", want, le.Message)
		}
	}
	if err := page.TryClick("button"); !errors.Is(err, live.ErrRequest) {
		t.Fatalf("a selector matching several buttons: %v", err)
	}

	// Click fails the test with the same message.
	ft := run(t, func(tb testing.TB) { livetest.Open(tb, lv, "/shop").Click("#inc-typo") })
	if !ft.fatal || !strings.Contains(ft.msg, `livetest: Click("#inc-typo")`) || !strings.Contains(ft.msg, `"#inc-typo"`) {
		t.Fatalf("Click with a typo: fatal=%v %q", ft.fatal, ft.msg)
	}
}

func TestAFailingHandleIsAnEventError(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	page.Click("#inc")
	err := page.TryClick("#boom")
	var ee *livetest.EventError
	if !errors.As(err, &ee) {
		t.Fatalf("not an EventError: %#v", err)
	}
	if ee.Code != "host_error" || ee.Message != "boom at 2" || !errors.Is(err, live.ErrCallback) {
		t.Fatalf("EventError: code %q message %q (%v)", ee.Code, ee.Message, err)
	}
	if !strings.Contains(err.Error(), `"#boom"`) {
		t.Fatalf("the error does not name the selector: %v", err)
	}
	// The failed event changed nothing.
	var st shopState
	page.State(&st)
	if st.Count != 2 {
		t.Fatalf("state after the failure: %+v", st)
	}
	ft := run(t, func(tb testing.TB) { livetest.Open(tb, lv, "/shop").Click("#boom") })
	if !ft.fatal || !strings.Contains(ft.msg, "boom at 0") {
		t.Fatalf("Click on a failing Handle: fatal=%v %q", ft.fatal, ft.msg)
	}
}

func TestNoPushFailsNamingWhatArrived(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	page.NoPush(50 * time.Millisecond)
	if err := lv.Publish("items", "late"); err != nil {
		t.Fatal(err)
	}
	err := page.TryNoPush(2 * time.Second)
	if !errors.Is(err, live.ErrState) || !strings.Contains(err.Error(), "late") {
		t.Fatalf("TryNoPush after a publish: %v", err)
	}

	ft := run(t, func(tb testing.TB) {
		p := livetest.Open(tb, lv, "/shop")
		if err := lv.Publish("items", "later"); err != nil {
			tb.Error(err)
			return
		}
		p.NoPush(2 * time.Second)
	})
	if !ft.fatal || !strings.Contains(ft.msg, "livetest: NoPush(2s)") || !strings.Contains(ft.msg, "later") {
		t.Fatalf("NoPush after a publish: fatal=%v %q", ft.fatal, ft.msg)
	}
}

func TestARedirectIsFollowed(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	if got := page.Path(); got != "/shop" {
		t.Fatalf("path: %q", got)
	}
	page.Click("#away")
	if got := page.Path(); got != "/other" {
		t.Fatalf("path after the redirect: %q", got)
	}
	if got := page.Text("#where"); got != "the other page" {
		t.Fatalf("the page shown: %q", got)
	}
	if push := page.NextPush(time.Second); push.Type != "redirect" || push.To != "/other" {
		t.Fatalf("the redirect's push: %s", push)
	}
	page.Visit("/shop")
	if got := page.Path(); got != "/shop" {
		t.Fatalf("path after Visit: %q", got)
	}
}

func TestOpenFailsNamingTheStatus(t *testing.T) {
	lv, _ := newShop(t)
	_, err := livetest.TryOpen(t, lv, "/nope")
	if !errors.Is(err, live.ErrNotFound) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("TryOpen of an unknown path: %v", err)
	}
	ft := run(t, func(tb testing.TB) { livetest.Open(tb, lv, "/nope") })
	if !ft.fatal || !strings.Contains(ft.msg, `livetest.Open("/nope")`) || !strings.Contains(ft.msg, "404") {
		t.Fatalf("Open of an unknown path: fatal=%v %q", ft.fatal, ft.msg)
	}
}

func TestACallFromACallbackIsRefused(t *testing.T) {
	lv, shop := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	shop.mu.Lock()
	shop.page = page
	shop.mu.Unlock()
	page.Click("#reenter")
	err := <-shop.reentered
	if !errors.Is(err, live.ErrReentrant) || !strings.Contains(err.Error(), "Page.Click was called from inside a page callback") {
		t.Fatalf("a click from Handle: %v", err)
	}
	var st shopState
	page.State(&st)
	if st.Count != 0 {
		t.Fatalf("the refused click counted: %+v", st)
	}
}

func TestCloseEndsThePage(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	page.Close()
	page.Close()
	if err := page.TryClick("#inc"); !errors.Is(err, live.ErrState) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("a click after Close: %v", err)
	}
}

// fakeT records a helper's failure; Fatal ends the goroutine as testing's does.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	msg      string
	fatal    bool
	failed   bool
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed, f.msg = true, fmt.Sprint(args...)
}
func (f *fakeT) Errorf(format string, args ...any) { f.Error(fmt.Sprintf(format, args...)) }
func (f *fakeT) Fatal(args ...any) {
	f.Error(args...)
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// run runs body with a fakeT on its own goroutine, then its cleanups.
func run(t *testing.T, body func(testing.TB)) *fakeT {
	t.Helper()
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(ft)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the helper did not return")
	}
	for i := len(ft.cleanups) - 1; i >= 0; i-- {
		ft.cleanups[i]()
	}
	return ft
}

// Cookie and Header reach the auth hook on every request; Timeout bounds the
// wait for a reply.
func TestOpenOptionsReachTheAuthHook(t *testing.T) {
	lv, _ := newShop(t)
	seen := make(chan string, 4)
	if err := lv.SetAuth(func(r *http.Request) live.AuthResult {
		c, err := r.Cookie("login")
		if err != nil || r.Header.Get("X-Team") != "blue" || r.Host != "shop.test" {
			return live.Deny()
		}
		seen <- c.Value
		return live.Allow(c.Value)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := livetest.TryOpen(t, lv, "/shop", livetest.Cookie("login", "ana")); !errors.Is(err, live.ErrNotFound) ||
		!strings.Contains(err.Error(), "403") {
		t.Fatalf("without the header: %v", err)
	}
	page := livetest.Open(t, lv, "/shop", livetest.Cookie("login", "ana"), livetest.Header("X-Team", "blue"),
		livetest.Host("shop.test"), livetest.Timeout(2*time.Second))
	if got := <-seen; got != "ana" {
		t.Fatalf("the hook saw %q", got)
	}
	page.Click("#inc")
	if got := page.Text("#stats"); got != "count=2" {
		t.Fatalf("after a click: %q", got)
	}
}

// Change, Key, Focus, Blur and Event send what a browser would: the field, the
// key (a key data-lv-key filters out is not sent), the form's values.
func TestChangeKeyFocusBlurAndEvent(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	page.Focus("#q")
	page.Change("#q", "tea")
	page.Key("#q", "keydown", "Enter")
	if err := page.TryKey("#q", "keydown", "a"); !errors.Is(err, live.ErrNotFound) || !strings.Contains(err.Error(), "Enter") {
		t.Fatalf("a key the filter drops: %v", err)
	}
	page.Blur("#q")
	page.Event(map[string]any{"type": "click", "name": "typed", "values": map[string]string{}})
	page.Event(`{"type":"click","name":"typed"}`)
	if err := page.TryEvent("{"); !errors.Is(err, live.ErrJSON) {
		t.Fatalf("bad JSON: %v", err)
	}
	var st shopState
	page.State(&st)
	want := []string{
		"focus in field= key= q=",
		"change search field=q key= q=tea",
		"keydown key field= key=Enter q=",
		"blur out field= key= q=",
		"click typed field= key= q=",
		"click typed field= key= q=",
	}
	if !slices.Equal(st.Seen, want) {
		t.Fatalf("seen:\n%q\nwant\n%q", st.Seen, want)
	}
}

// An App closed before its pages (a deferred lv.Close runs before t.Cleanup):
// the pages' calls fail with ErrState and their Close still works.
func TestAnAppClosedBeforeItsPage(t *testing.T) {
	lv, _ := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	done := make(chan error, 1)
	go func() { done <- lv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for the open page")
	}
	if err := page.TryClick("#inc"); !errors.Is(err, live.ErrState) {
		t.Fatalf("a click after the app closed: %v", err)
	}
	if _, err := livetest.TryOpen(t, lv, "/shop"); !errors.Is(err, live.ErrState) {
		t.Fatalf("Open on a closed app: %v", err)
	}
	page.Close()
}

// Click from a callback reports the refusal with t.Errorf: a t.Fatalf on the
// library's thread would abort the process.
func TestClickFromACallbackFailsTheTestWithoutAborting(t *testing.T) {
	lv, shop := newShop(t)
	page := livetest.Open(t, lv, "/shop")
	ft := &fakeT{TB: t}
	inner := livetest.Open(ft, lv, "/shop")
	shop.mu.Lock()
	shop.page = inner
	shop.mu.Unlock()
	page.Event(map[string]any{"type": "click", "name": "reenter", "values": map[string]string{"x": "1"}})
	if err := <-shop.reentered; err != nil {
		t.Fatal(err)
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if !ft.failed || ft.fatal || !strings.Contains(ft.msg, "Page.Click was called from inside a page callback") {
		t.Fatalf("failed=%v fatal=%v %q", ft.failed, ft.fatal, ft.msg)
	}
	for i := len(ft.cleanups) - 1; i >= 0; i-- {
		ft.cleanups[i]()
	}
}
