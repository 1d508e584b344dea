package main

import (
	"slices"
	"strings"
	"testing"

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
