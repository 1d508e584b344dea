package routertest

import (
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/live"
)

type counterState struct {
	Count int      `json:"count"`
	Log   []string `json:"log"`
}

// counterPage is DESIGN.md's counter, counting its mounts.
type counterPage struct{ mounts atomic.Int64 }

func (p *counterPage) Mount(ctx *live.Ctx, s *live.Session[counterState]) error {
	p.mounts.Add(1)
	s.State = counterState{Log: []string{}}
	return nil
}

func (p *counterPage) View() live.View {
	return live.View{Page: "counter/index", Regions: map[string]string{"stats": "counter/stats", "log": "counter/log"}}
}

func (p *counterPage) Handle(ctx *live.Ctx, s *live.Session[counterState], e live.Event) error {
	by, err := e.Int("by")
	if err != nil {
		return err
	}
	if e.Name == "dec" {
		by = -by
	}
	s.State.Count += by
	s.Mark("stats")
	return nil
}

func (p *counterPage) Info(ctx *live.Ctx, s *live.Session[counterState], msg live.Message) error {
	return nil
}

// newApp is an app with the live package's test views, closed when the test ends.
func newApp(t *testing.T) *live.App {
	t.Helper()
	lv, err := live.New(live.Options{
		Views:  filepath.Join("..", "live", "testdata", "views"),
		Secret: "mizulive-router-tests-secret-0123456789",
		// Two of each: the machine running the tests is shared.
		HostThreads: 2, IOThreads: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lv.Close(); err != nil {
			t.Error(err)
		}
	})
	return lv
}
