package live_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// keeperPage keeps the Ctx of its Mount, after reading the session id and the
// params through it (so a cached copy would show).
type keeperPage struct {
	mu     sync.Mutex
	kept   *live.Ctx
	during map[string]string
	id     string
}

func (p *keeperPage) View() live.View { return live.View{Page: "browser/index"} }

func (p *keeperPage) Mount(ctx *live.Ctx, s *live.Session[BrowserState]) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kept, p.during, p.id = ctx, ctx.Params(), ctx.SessionID()
	return nil
}

func (p *keeperPage) Handle(*live.Ctx, *live.Session[BrowserState], live.Event) error { return nil }
func (p *keeperPage) Info(*live.Ctx, *live.Session[BrowserState], live.Message) error { return nil }

// A Ctx kept past its callback refuses every method: each error is ErrState,
// Publish's too, and the getters answer empty although they answered during the
// callback. Only App still answers.
func TestKeptCtxRefusesEveryMethod(t *testing.T) {
	page := &keeperPage{}
	lv, base := startApp(t, testOptions(false), func(lv *live.App) {
		must(t, live.Register(lv, "/keep/{room}", page))
	})
	livetest.Get(t, base+"/keep/lobby")
	page.mu.Lock()
	kept, during, id := page.kept, page.during, page.id
	page.mu.Unlock()
	if kept == nil || during["room"] != "lobby" || len(id) != 32 {
		t.Fatalf("during Mount: params %v, session id %q", during, id)
	}

	refused := map[string]error{
		"Subscribe":     kept.Subscribe("t"),
		"Unsubscribe":   kept.Unsubscribe("t"),
		"Publish":       kept.Publish("t", map[string]int{"n": 1}),
		"CancelTimer":   kept.CancelTimer(1),
		"Redirect":      kept.Redirect("/x"),
		"Navigate":      kept.Navigate("/x", false),
		"SetTitle":      kept.SetTitle("late"),
		"Focus":         kept.Focus("#x"),
		"Scroll":        kept.Scroll("#x", true),
		"SetBrowser":    kept.SetBrowser("k", 1),
		"DeleteBrowser": kept.DeleteBrowser("k"),
	}
	_, refused["SendAfter"] = kept.SendAfter(time.Millisecond, 1)
	_, refused["Browser"] = kept.Browser()
	for method, err := range refused {
		if !errors.Is(err, live.ErrState) {
			t.Errorf("%s on a kept Ctx: %v, want ErrState", method, err)
		}
	}
	if got := kept.Params(); len(got) != 0 {
		t.Errorf("Params on a kept Ctx: %v, want empty", got)
	}
	if got := kept.Param("room"); got != "" {
		t.Errorf("Param on a kept Ctx: %q, want empty", got)
	}
	for method, got := range map[string]string{"SessionID": kept.SessionID(), "UserID": kept.UserID(), "BrowserID": kept.BrowserID()} {
		if got != "" {
			t.Errorf("%s on a kept Ctx: %q, want empty", method, got)
		}
	}
	if kept.App() != lv {
		t.Errorf("App on a kept Ctx: %p, want the app %p", kept.App(), lv)
	}
}
