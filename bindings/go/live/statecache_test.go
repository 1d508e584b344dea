package live_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// Which state types a session keeps decoded between callbacks: only those a JSON
// round trip gives back whole, so a callback cannot tell the difference.
func TestCacheableStateTypes(t *testing.T) {
	type node struct {
		Name string  `json:"name"`
		Next *node   `json:"next"`
		Kids []*node `json:"kids"`
	}
	type stamped struct {
		At time.Time `json:"at"`
	}
	for _, c := range []struct {
		v    any
		want bool
	}{
		{CounterState{}, true},
		{ProbeState{}, true},
		{node{}, true},
		{struct {
			A [3]uint8
			M map[string][]float64
		}{}, true},
		{map[string]int{}, true},
		{struct{ N, hidden int }{}, false}, // unexported: dropped by the round trip
		{struct {
			A, B int `json:"-"`
		}{}, false}, // tagged "-": dropped too
		{struct{ Any any }{}, false},              // would decode as float64, map[string]any
		{map[string]any{}, false},                 //
		{stamped{}, false},                        // a custom (un)marshaler
		{struct{ R json.RawMessage }{}, false},    //
		{struct{ M map[int]string }{}, false},     // keys through text
		{struct{ F func() }{}, false},             // not JSON at all
		{struct{ C chan int }{}, false},           //
		{struct{ P *struct{ x int } }{}, false},   // nested unexported field
		{[]struct{ I interface{ M() } }{}, false}, //
		{struct {
			N   node
			Bad struct{ Any any }
		}{}, false}, //
	} {
		if got := live.Cacheable(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("cacheable(%T) = %v, want %v", c.v, got, c.want)
		}
	}
}

// hiddenState has a field encoding/json does not carry: it starts at zero in every
// callback, kept state or not.
type hiddenState struct {
	Count  int      `json:"count"`
	Log    []string `json:"log"`
	clicks int
}

type hiddenPage struct{ CounterPage }

func (p *hiddenPage) Mount(ctx *live.Ctx, s *live.Session[hiddenState]) error {
	s.State = hiddenState{Log: []string{}}
	return nil
}

func (p *hiddenPage) Handle(ctx *live.Ctx, s *live.Session[hiddenState], e live.Event) error {
	s.State.clicks++
	if s.State.clicks != 1 {
		return fmt.Errorf("an unexported field kept %d from an earlier callback", s.State.clicks-1)
	}
	s.State.Count++
	s.Mark("stats")
	return nil
}

func (p *hiddenPage) Info(*live.Ctx, *live.Session[hiddenState], live.Message) error { return nil }

// A state with a field JSON does not carry is decoded for every callback, as
// before: the field never leaks from one callback into the next, and such a page's
// sessions keep nothing. A counter session keeps its state, released when the app
// closes.
func TestStateKeptOnlyWhenItRoundTrips(t *testing.T) {
	lv, base := startApp(t, testOptions(false), func(lv *live.App) {
		must(t, live.Register(lv, "/hidden", &hiddenPage{}))
		must(t, live.Register(lv, "/counter", &CounterPage{}))
	})
	started := live.LiveHandles() // the two pages' and the log sink's
	hidden := livetest.Open(t, base+"/hidden")
	counter := livetest.Open(t, base+"/counter")
	for i := 1; i <= 3; i++ {
		r := hidden.MustClick("inc", nil)
		contains(t, "stats", region(t, r, "stats"), fmt.Sprintf(`<strong id="count">%d</strong>`, i))
		r = counter.MustClick("inc", map[string]string{"by": "1"})
		contains(t, "stats", region(t, r, "stats"), fmt.Sprintf(`<strong id="count">%d</strong>`, i))
	}
	if got := live.LiveHandles(); got != started+1 {
		t.Fatalf("handles with two sessions: %d, want %d (the counter's kept state only)", got, started+1)
	}
	hidden.Close()
	counter.Close()
	must(t, lv.Close())
	if got := live.LiveHandles(); got != started-2 {
		t.Fatalf("handles after Close: %d, want %d (a kept state was not released)", got, started-2)
	}
}

// A callback that changes the state in place and then fails leaves nothing behind,
// though the state it changed is the one the session kept decoded: the next
// callback decodes the library's state again.
func TestKeptStateAfterAFailure(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	for _, failing := range []string{"fail", "panic"} {
		c := livetest.Open(t, base+"/probe")
		c.MustClick("add", map[string]string{"title": "a"})
		if r := c.Click(failing, nil); r.Reply.OK {
			t.Fatalf("%s: succeeded", failing)
		}
		r := c.MustClick("add", map[string]string{"title": "b"})
		contains(t, "n", region(t, r, "n"), "n=2")
		if got := region(t, r, "items"); got != "<li>a</li><li>b</li>" {
			t.Fatalf("items after %s: %q", failing, got)
		}
		c.Close()
	}
}

// A session's ids come with its kept state: the same as the library's, callback
// after callback, and each session its own.
func TestKeptStateCarriesTheSessionIDs(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	a := livetest.Open(t, base+"/probe")
	b := livetest.Open(t, base+"/probe")
	for i := 0; i < 3; i++ {
		a.MustClick("add", map[string]string{"title": "x"})
		a.MustClick("ids", nil)
		b.MustClick("ids", nil)
		b.MustClick("add", map[string]string{"title": "y"})
	}
}

type keptState struct {
	Log []string `json:"log"`
}

// keptPage records, for each event, whether the state it got is the very one the
// session's last callback left (kept decoded: its list's first element at the same
// address) rather than decoded again.
type keptPage struct {
	CounterPage
	mu   sync.Mutex
	last *string
	same []bool
}

func (p *keptPage) Mount(ctx *live.Ctx, s *live.Session[keptState]) error {
	s.State = keptState{Log: []string{"mounted"}}
	return nil
}

func (p *keptPage) Handle(ctx *live.Ctx, s *live.Session[keptState], e live.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := &s.State.Log[0]
	p.same = append(p.same, first == p.last)
	p.last = first
	return nil
}

func (p *keptPage) Info(*live.Ctx, *live.Session[keptState], live.Message) error { return nil }

// A session's events after its first get the state the one before left, not a
// decoding of the library's copy: the state is kept with the session between
// callbacks (a mount keeps nothing, so the first event decodes).
func TestEventsGetTheKeptState(t *testing.T) {
	page := &keptPage{}
	_, base := startApp(t, testOptions(false), func(lv *live.App) {
		must(t, live.Register(lv, "/kept", page))
	})
	c := livetest.Open(t, base+"/kept")
	defer c.Close()
	for i := 0; i < 4; i++ {
		c.MustClick("inc", nil)
	}
	page.mu.Lock()
	defer page.mu.Unlock()
	if want := []bool{false, true, true, true}; !slices.Equal(page.same, want) {
		t.Fatalf("kept state used, event by event: %v, want %v", page.same, want)
	}
}
