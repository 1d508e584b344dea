package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/livetest"
)

// One Handle call at a time, without a server: the state changes, the regions
// marked are the page's own, and an unknown event fails and marks nothing.
func TestCounterHandle(t *testing.T) {
	page := &CounterPage{}
	ctx := livetest.NewCtx(nil)
	s := livetest.NewSession(ctx, CounterState{})
	if err := page.Mount(ctx, s); err != nil {
		t.Fatal(err)
	}

	if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "inc", Values: map[string]string{"by": "5"}}); err != nil {
		t.Fatal(err)
	}
	if s.State.Count != 5 || !slices.Equal(s.State.Log, []string{"inc 5 → 5"}) {
		t.Fatalf("after inc by 5: %+v", s.State)
	}
	if got := livetest.Marks(s); !slices.Equal(got, []string{"stats", "log"}) {
		t.Fatalf("marks: %v", got)
	}
	if err := livetest.CheckMarks(page, s); err != nil {
		t.Fatal(err)
	}

	// A no-JS form post sends "by" as a form field; without one it counts by 1.
	s = livetest.NewSession(ctx, s.State)
	if err := page.Handle(ctx, s, live.Event{Type: "submit", Name: "dec", Form: map[string][]string{"by": {"2"}}}); err != nil {
		t.Fatal(err)
	}
	s = livetest.NewSession(ctx, s.State)
	if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "dec"}); err != nil {
		t.Fatal(err)
	}
	if s.State.Count != 2 {
		t.Fatalf("count after dec 2 and dec: %d, want 2", s.State.Count)
	}

	// The log keeps the last logMax entries.
	for i := 0; i < logMax+3; i++ {
		if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "inc"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.State.Log) != logMax || s.State.Log[logMax-1] != "inc 1 → 15" {
		t.Fatalf("log: %q", s.State.Log)
	}

	s = livetest.NewSession(ctx, s.State)
	err := page.Handle(ctx, s, live.Event{Type: "click", Name: "reset"})
	if err == nil || !strings.Contains(err.Error(), `unknown event "reset"`) || len(livetest.Marks(s)) != 0 {
		t.Fatalf("unknown event: %v, marks %v", err, livetest.Marks(s))
	}
	if rec := livetest.Recorded(ctx); len(rec.Published) != 0 || rec.Redirect != "" || len(rec.Errors) != 0 {
		t.Fatalf("the counter asked the Ctx for something: %+v", rec)
	}

	// A bad number is the page's error, before anything changes.
	s = livetest.NewSession(ctx, CounterState{Count: 1, Log: []string{}})
	if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "inc", Values: map[string]string{"by": "x"}}); err == nil || s.State.Count != 1 {
		t.Fatalf("by=x: %v, count %d", err, s.State.Count)
	}
}

// The whole page, headless and in-process: buttons clicked as rendered (a typo
// in the template's event name would fail here), the regions a browser would
// show after each click, and the session's typed state.
func TestCounterPage(t *testing.T) {
	lv, err := newApp(viewsDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lv.Close() })
	page := livetest.Open(t, lv, "/counter")
	if got := page.Text("#count"); got != "0" {
		t.Fatalf("count at first: %q", got)
	}
	page.Click("[data-lv-click=inc]")
	page.Click("[data-lv-click=inc]")
	page.Click("[data-lv-click=dec]")
	if got := page.Region("stats"); got != `<p>Count: <strong id="count">1</strong></p>` {
		t.Fatalf("stats after +, +, -: %q", got)
	}
	if got := page.Region("log"); got != "<ol><li>inc 1 → 1</li><li>inc 1 → 2</li><li>dec 1 → 1</li></ol>" {
		t.Fatalf("log: %q", got)
	}
	var st CounterState
	page.State(&st)
	if st.Count != 1 || len(st.Log) != 3 {
		t.Fatalf("state: %+v", st)
	}
	// An event the page does not know fails with the page's own message.
	var ee *livetest.EventError
	if err := page.TryEvent(map[string]string{"type": "click", "name": "reset"}); !errors.As(err, &ee) ||
		!strings.Contains(ee.Message, `unknown event "reset"`) {
		t.Fatalf("an unknown event: %v", err)
	}
	// The same page at / is another session.
	if root := livetest.Open(t, lv, "/"); root.Text("#count") != "0" {
		t.Fatalf("/ starts at %q", root.Text("#count"))
	}
	page.NoPush(50 * time.Millisecond)
}
