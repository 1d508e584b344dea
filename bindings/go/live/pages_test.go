package live_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// ---------------------------------------------------------------------------
// The counter: the markup every host's counter keeps.
// ---------------------------------------------------------------------------

type CounterState struct {
	Count int      `json:"count"`
	Log   []string `json:"log"`
}

type CounterPage struct{}

func (p *CounterPage) Mount(ctx *live.Ctx, s *live.Session[CounterState]) error {
	s.State = CounterState{Log: []string{}}
	return nil
}

func (p *CounterPage) View() live.View {
	return live.View{
		Page:    "counter/index",
		Regions: map[string]string{"stats": "counter/stats", "log": "counter/log"},
	}
}

func (p *CounterPage) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
	by, err := e.Int("by")
	if err != nil {
		return err
	}
	switch e.Name {
	case "inc":
		s.State.Count += by
	case "dec":
		s.State.Count -= by
	default:
		return fmt.Errorf("unknown event %q", e.Name)
	}
	s.State.Log = append(s.State.Log, fmt.Sprintf("%s %d → %d", e.Name, by, s.State.Count))
	s.Mark("stats", "log")
	return nil
}

func (p *CounterPage) Info(ctx *live.Ctx, s *live.Session[CounterState], msg live.Message) error {
	return nil
}

// ---------------------------------------------------------------------------
// The probe: a page whose events exercise the whole binding.
// ---------------------------------------------------------------------------

type Item struct {
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

type ProbeState struct {
	N     int            `json:"n"`
	Items []Item         `json:"items"`
	Tags  map[string]int `json:"tags"`
	Note  *string        `json:"note"`
	Who   string         `json:"who"`
	Room  string         `json:"room"`
	Timer live.TimerID   `json:"timer"`
	Got   []string       `json:"got"`
	// Seen counts publishes per publisher, to check each one's order.
	Seen map[string]int `json:"seen"`
	// Errors records what failing ctx calls returned, for the test to read.
	Errors []string `json:"errors"`
}

// Note is what the publish tests send.
type Note struct {
	From string `json:"from"`
	K    int    `json:"k"`
}

// Detail is what failing callbacks report; it reaches the browser in dev mode only.
const Detail = "disk quota exceeded on /srv/secret-volume"

// LongID is a region id longer than the commit's stack buffer for one id.
var LongID = "region-" + strings.Repeat("x", 200)

type ProbePage struct {
	// terminated receives each Terminate's reason.
	terminated chan string
	mu         sync.Mutex
	stale      *live.Ctx
	staleS     *live.Session[ProbeState]
}

// spoil changes the state before a callback fails: n, and in place the memory it
// shares with the state the session keeps decoded between callbacks (the first
// item's title, a tag). None of it may be seen afterwards.
func spoil(st *ProbeState) {
	st.N += 1000
	if len(st.Items) > 0 {
		st.Items[0].Title += " spoiled"
	}
	st.Tags["spoiled"]++
}

func NewProbe() *ProbePage { return &ProbePage{terminated: make(chan string, 16)} }

func (p *ProbePage) View() live.View {
	return live.View{Page: "probe/index", Regions: map[string]string{
		"n": "probe/n", "items": "probe/items", "got": "probe/got", "flash": "probe/flash", "errors": "probe/errors",
	}}
}

func (p *ProbePage) Mount(ctx *live.Ctx, s *live.Session[ProbeState]) error {
	switch ctx.Param("room") {
	case "broken":
		return errors.New(Detail)
	case "panic":
		panic(Detail)
	case "missing":
		return fmt.Errorf("no room %q: %w", ctx.Param("room"), live.ErrNotFound)
	case "gone":
		if err := ctx.SetStatus(410); err != nil {
			return err
		}
		return errors.New("archived")
	case "moved":
		return ctx.Redirect("/rooms/lobby")
	case "soft":
		if err := ctx.SetStatus(404); err != nil {
			return err
		}
	}
	s.State = ProbeState{Tags: map[string]int{}, Who: s.UserID, Room: ctx.Param("room"), Seen: map[string]int{}}
	if len(s.ID) != 32 {
		return fmt.Errorf("session id %q is not 32 hex characters", s.ID)
	}
	return ctx.Subscribe("probe:all")
}

func (p *ProbePage) Handle(ctx *live.Ctx, s *live.Session[ProbeState], e live.Event) error {
	st := &s.State
	switch e.Name {
	case "add":
		st.N++
		st.Items = append(st.Items, Item{Title: e.Get("title")})
		st.Tags[e.Get("title")]++
		s.Mark("n", "items")
	case "toggle":
		i, err := e.Int("i")
		if err != nil {
			return err
		}
		if i < 0 || i >= len(st.Items) {
			return fmt.Errorf("no item %d", i)
		}
		st.Items[i].Done = !st.Items[i].Done
		note := fmt.Sprintf("toggled %d", i)
		st.Note = &note
		s.Mark("items")
	case "replace":
		s.ReplaceState(ProbeState{N: 100, Items: []Item{{Title: "fresh"}}, Tags: map[string]int{}, Seen: map[string]int{}})
	case "fail":
		spoil(st)
		s.Mark("n")
		return errors.New(Detail)
	case "panic":
		spoil(st)
		s.Mark("n")
		var m map[string]int
		m["boom"]++ // a nil-map write: a real runtime panic
	case "badmark":
		spoil(st)
		s.Mark("nope")
	case "badmark2":
		// The second of two ids is not the page's: the first is not sent either.
		spoil(st)
		s.Mark("n", "nope2")
	case "longmark":
		spoil(st)
		s.Mark(LongID)
	case "ids":
		// The ids the session carries are the library's, kept state or not.
		if s.ID != ctx.SessionID() || s.UserID != ctx.UserID() || len(s.ID) != 32 {
			return fmt.Errorf("ids %q/%q, the library says %q/%q", s.ID, s.UserID, ctx.SessionID(), ctx.UserID())
		}
	case "flash":
		s.Flash.Info("saved")
		s.Flash.Error("but not really")
		s.Mark("flash")
	case "redirect":
		return ctx.Redirect("/elsewhere")
	case "navigate":
		return ctx.Navigate("/rooms/b", true)
	case "title":
		return ctx.SetTitle("New title")
	case "focus":
		if err := ctx.Focus("#n"); err != nil {
			return err
		}
		return ctx.Scroll("#items", true)
	case "arm":
		id, err := ctx.SendAfter(300*time.Millisecond, "cancelled")
		if err != nil {
			return err
		}
		st.Timer = id
	case "disarm":
		if err := ctx.CancelTimer(st.Timer); err != nil {
			return err
		}
		if err := ctx.CancelTimer(st.Timer); !errors.Is(err, live.ErrNotFound) {
			return fmt.Errorf("second cancel: got %v, want ErrNotFound", err)
		}
		if _, err := ctx.SendAfter(400*time.Millisecond, "fired"); err != nil {
			return err
		}
	case "keep":
		p.mu.Lock()
		p.stale, p.staleS = ctx, s
		p.mu.Unlock()
	case "stale":
		p.mu.Lock()
		stale := p.stale
		p.mu.Unlock()
		st.Errors = append(st.Errors, errText(stale.Subscribe("x")), errText(stale.Redirect("/x")),
			fmt.Sprintf("id=%q", stale.SessionID()))
		done := make(chan error)
		go func() { done <- ctx.Subscribe("from-a-goroutine") }()
		st.Errors = append(st.Errors, errText(<-done))
		st.Errors = append(st.Errors, errText(ctx.Subscribe("nul\x00byte")))
		s.Mark("errors")
	case "close":
		st.Errors = append(st.Errors, errText(ctx.App().Close()))
		s.Mark("errors")
	case "publish":
		return ctx.Publish("probe:all", Note{From: "self", K: 1})
	default:
		return fmt.Errorf("unknown event %q", e.Name)
	}
	return nil
}

func (p *ProbePage) Info(ctx *live.Ctx, s *live.Session[ProbeState], msg live.Message) error {
	if msg.IsTimer() {
		text, err := live.Decode[string](msg)
		if err != nil {
			return err
		}
		s.State.Got = append(s.State.Got, text)
		s.Mark("got")
		return nil
	}
	note, err := live.Decode[Note](msg)
	if err != nil {
		return err
	}
	if msg.Topic != "probe:all" {
		return fmt.Errorf("unexpected topic %q", msg.Topic)
	}
	if want := s.State.Seen[note.From] + 1; note.K != want {
		return fmt.Errorf("publisher %s: got message %d, want %d", note.From, note.K, want)
	}
	s.State.Seen[note.From] = note.K
	s.State.N++
	s.Mark("n")
	return nil
}

func (p *ProbePage) Terminate(ctx *live.Ctx, s *live.Session[ProbeState], reason string) {
	p.terminated <- fmt.Sprintf("%s n=%d", reason, s.State.N)
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "\x00", `\0`)
}
