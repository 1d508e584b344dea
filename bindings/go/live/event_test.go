package live_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// Event values reach Handle as sent, including what only a hand-written client
// would send (numbers, several form values), and the typed getters read them.
func TestEventValues(t *testing.T) {
	got := make(chan live.Event, 1)
	_, base := startApp(t, testOptions(false), func(lv *live.App) {
		must(t, live.Register(lv, "/counter", &eventSpy{got: got}))
	})
	c := livetest.Open(t, base+"/counter")
	slow, walked := live.SlowEvents(), live.WalkedEvents()
	c.Send(map[string]any{
		"t": "event", "ref": 1, "type": "submit", "name": "save", "target": "cart",
		"values": map[string]any{"by": " 4 ", "ratio": "0.5", "raw": 12, "flag": "on"},
		"form":   map[string]any{"tags": []string{"a", "b"}, "check": []string{}, "title": []string{"hi"}},
		"key":    "Enter", "field": "title",
		"meta": map[string]bool{"shift": true, "ctrl": false, "alt": false, "meta": false},
	})
	if f := c.Expect("reply"); !f.OK {
		t.Fatalf("reply: %s", f.Raw)
	}
	e := <-got
	if n := live.SlowEvents() - slow; n != 0 {
		t.Fatalf("%d event(s) as the library writes them missed the fast reader", n)
	}
	if n := live.WalkedEvents() - walked; n != 0 {
		t.Fatalf("%d event(s) as the library writes them were not read by its layout", n)
	}
	if e.Type != "submit" || e.Name != "save" || e.Target != "cart" || e.Key != "Enter" || !e.Meta.Shift {
		t.Fatalf("event: %+v", e)
	}
	if n, err := e.Int("by"); err != nil || n != 4 {
		t.Fatalf("Int(by) = %d, %v", n, err)
	}
	if f, err := e.Float("ratio"); err != nil || f != 0.5 {
		t.Fatalf("Float(ratio) = %v, %v", f, err)
	}
	if n, err := e.Int("raw"); err != nil || n != 12 {
		t.Fatalf("Int(raw) = %d, %v", n, err)
	}
	if _, err := e.Int("tags"); err == nil {
		t.Fatal("Int of a word did not fail")
	}
	if _, err := e.Int("missing"); err == nil {
		t.Fatal("Int of a missing value did not fail")
	}
	if !e.Bool("flag") || e.Bool("check") || e.Bool("missing") {
		t.Fatalf("Bool: flag=%v check=%v missing=%v", e.Bool("flag"), e.Bool("check"), e.Bool("missing"))
	}
	if got := e.Strings("tags"); len(got) != 2 || got[1] != "b" {
		t.Fatalf("Strings(tags) = %q", got)
	}
	if e.Get("title") != "hi" || e.Form.Get("title") != "hi" || e.Get("missing") != "" {
		t.Fatalf("Get: %q", e.Get("title"))
	}
}

type eventSpy struct {
	CounterPage
	got chan live.Event
}

func (p *eventSpy) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
	p.got <- e
	return nil
}

// SetLogger routes the library's own log records to a slog.Logger; SetLogger(nil)
// goes back to slog.Default(), and the replaced sink's handle is dropped.
func TestSetLogger(t *testing.T) {
	want := live.LiveHandles()
	if !live.LogSinkInstalled() {
		want++ // SetLogger(nil) below installs the default sink, which stays.
	}
	h := &capture{seen: make(chan string, 64)}
	must(t, live.SetLogger(slog.New(h)))
	defer func() {
		must(t, live.SetLogger(nil))
		// The old sink's thread drains its queue, then drops the handle.
		deadline := time.Now().Add(livetest.Wait)
		for live.LiveHandles() != want {
			if time.Now().After(deadline) {
				t.Fatalf("handles after SetLogger(nil): %d, want %d", live.LiveHandles(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, base := startApp(t, testOptions(false), nil)
	deadline := time.After(livetest.Wait)
	for {
		select {
		case msg := <-h.seen:
			if strings.Contains(msg, "listening on "+base) {
				return
			}
		case <-deadline:
			t.Fatal("no \"listening\" record reached the logger")
		}
	}
}

type capture struct {
	mu   sync.Mutex
	seen chan string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	target := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "target" {
			target = a.Value.String()
		}
		return true
	})
	select {
	case c.seen <- r.Level.String() + " " + target + ": " + r.Message:
	default:
	}
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }
