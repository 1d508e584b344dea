package live_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// records is a slog.Handler that keeps every record with its attributes.
type records struct {
	mu  sync.Mutex
	all []logged
}

type logged struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	l := logged{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		l.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.all = append(h.all, l)
	h.mu.Unlock()
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// wait returns the first record that match accepts, failing the test after
// livetest.Wait.
func (h *records) wait(t *testing.T, what string, match func(logged) bool) logged {
	t.Helper()
	deadline := time.Now().Add(livetest.Wait)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, l := range h.all {
			if match(l) {
				h.mu.Unlock()
				return l
			}
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Fatalf("no %s reached slog; got %+v", what, h.all)
	return logged{}
}

// grumpyPage subscribes every session to "grumpy" and refuses what arrives.
type grumpyPage struct {
	mu  sync.Mutex
	ids []string
}

func (p *grumpyPage) View() live.View { return live.View{Page: "browser/index"} }
func (p *grumpyPage) Mount(ctx *live.Ctx, s *live.Session[BrowserState]) error {
	p.mu.Lock()
	p.ids = append(p.ids, ctx.SessionID())
	p.mu.Unlock()
	return ctx.Subscribe("grumpy")
}
func (p *grumpyPage) Handle(*live.Ctx, *live.Session[BrowserState], live.Event) error { return nil }
func (p *grumpyPage) Info(*live.Ctx, *live.Session[BrowserState], live.Message) error {
	return errors.New("no thanks")
}

// Without SetLogger, the library's records reach slog.Default(), levels mapped,
// with the module as "target" and the session id as "session".
func TestLibraryLogsGoToSlogDefault(t *testing.T) {
	h := &records{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(old) })

	page := &grumpyPage{}
	lv, base := startApp(t, testOptions(false), func(lv *live.App) { must(t, live.Register(lv, "/grumpy", page)) })
	l := h.wait(t, "\"listening\" record", func(l logged) bool { return strings.Contains(l.msg, "listening on "+base) })
	if l.level != slog.LevelInfo || !strings.HasPrefix(l.attrs["target"], "mizulive") {
		t.Errorf("listening record: %+v", l)
	}

	livetest.Get(t, base+"/grumpy")
	page.mu.Lock()
	id := page.ids[0]
	page.mu.Unlock()
	must(t, lv.Publish("grumpy", 1))
	l = h.wait(t, "failed on_info record", func(l logged) bool { return strings.Contains(l.msg, "no thanks") })
	if l.level != slog.LevelWarn || l.attrs["session"] != id || strings.Contains(l.msg, "session=") {
		t.Errorf("on_info record: %+v, want WARN with session=%s as an attribute", l, id)
	}
}
