// Package livetest tests live pages in a user's own module.
//
// NewCtx makes a recording *live.Ctx, so one callback (Mount, Handle, Info) can
// be called directly, with no server and no browser, and what it did checked
// afterwards: the state in the Session, the marks and flash messages it set
// (Marks, Flash), and what it asked of the Ctx (Recorded: title, redirect,
// navigation, publishes, subscriptions, timers, focus, scroll, browser session
// writes, failed calls).
//
//	func TestInc(t *testing.T) {
//		ctx := livetest.NewCtx(nil)
//		s := livetest.NewSession(ctx, CounterState{Count: 1})
//		err := (&CounterPage{}).Handle(ctx, s, live.Event{Type: "click", Name: "inc",
//			Values: map[string]string{"by": "2"}})
//		if err != nil {
//			t.Fatal(err)
//		}
//		if s.State.Count != 3 {
//			t.Errorf("count = %d, want 3", s.State.Count)
//		}
//		if got := livetest.Marks(s); !slices.Equal(got, []string{"stats"}) {
//			t.Errorf("marks = %v", got)
//		}
//	}
//
// A recording Ctx records and does nothing else: no template renders, a
// publish reaches no session, a timer never fires, and the library's own checks
// (a region the page does not declare, a redirect to another host) do not run.
// CheckMarks checks marks against the page's View.
//
// Open drives a whole page headlessly instead, in-process (no port, no browser):
// events are sent from the rendered element a CSS selector points at, and the
// page's HTML, regions and typed state are read after each reply.
//
//	func TestCounterPage(t *testing.T) {
//		lv := newTestApp(t) // a *live.App with the page registered, closed by t.Cleanup
//		page := livetest.Open(t, lv, "/counter")
//		page.Click("[data-lv-click=inc]")
//		if got := page.Text("#count"); got != "1" {
//			t.Errorf("count = %q", got)
//		}
//		var st CounterState
//		page.State(&st)
//		if err := page.TryClick("[data-lv-click=incr]"); !errors.Is(err, live.ErrNotFound) {
//			t.Errorf("a typo: %v", err)
//		}
//	}
//
// Each Page method that can fail has a form that fails the test (Click) and one
// that returns the error (TryClick); a failed reply is an *EventError.
package livetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/internal/record"
)

// Option sets what a recording Ctx answers.
type Option struct{ apply func(*record.Recorder) }

// SessionID is the id the Ctx answers (default "test-session").
func SessionID(id string) Option {
	return Option{func(r *record.Recorder) { r.SessionID = id }}
}

// User is the user id the Ctx answers, as an auth hook would have set it
// (default "").
func User(id string) Option {
	return Option{func(r *record.Recorder) { r.UserID = id }}
}

// BrowserID is the browser id the Ctx answers (default "test-browser").
func BrowserID(id string) Option {
	return Option{func(r *record.Recorder) { r.BrowserID = id }}
}

// Browser sets key in the browser session the Ctx starts with to v as JSON. It
// panics when v does not encode, as the test's own mistake.
func Browser(key string, v any) Option {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("livetest.Browser(%q): %v", key, err))
	}
	return Option{func(r *record.Recorder) {
		if r.Browser == nil {
			r.Browser = map[string]json.RawMessage{}
		}
		r.Browser[key] = data
	}}
}

// NewCtx returns a recording Ctx with the route params params ({"room":
// "lobby"} for "/rooms/{room}" at /rooms/lobby; nil for none). Its methods record
// what they are asked, Recorded reads it. It may serve several callbacks in a
// row, as one session's Ctx would: subscriptions and pending timers carry over.
// Its App is nil: a callback publishes through Ctx.Publish.
func NewCtx(params map[string]string, opts ...Option) *live.Ctx {
	r := &record.Recorder{SessionID: "test-session", BrowserID: "test-browser", Params: maps.Clone(params)}
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(r)
		}
	}
	return record.NewCtx(r).(*live.Ctx)
}

// NewSession returns a Session for a direct call with ctx: its ID and UserID
// are ctx's, its State is state.
func NewSession[T any](ctx *live.Ctx, state T) *live.Session[T] {
	return &live.Session[T]{ID: ctx.SessionID(), UserID: ctx.UserID(), State: state}
}

// Record is what callbacks asked of a recording Ctx, as Recorded returns it.
type Record struct {
	// Title is the last SetTitle; TitleSet tells whether there was one.
	Title    string
	TitleSet bool
	// Redirect is the last Redirect's url, or "".
	Redirect string
	// Navigate is the last Navigate's url, or ""; NavigateReplace its replace.
	Navigate        string
	NavigateReplace bool
	// Focus is the last Focus's selector, or "".
	Focus string
	// Scroll is the last Scroll, or nil.
	Scroll *Scroll
	// Published holds every Publish, in order.
	Published []Message
	// Subscriptions are the topics subscribed now, in the order first subscribed.
	Subscriptions []string
	// Timers are the pending timers (set with SendAfter, not cancelled), in order.
	Timers []Timer
	// Browser is the browser session now, with the callbacks' writes.
	Browser map[string]json.RawMessage
	// Errors holds every error a method of the Ctx returned, in order.
	Errors []error
}

// Scroll is one Ctx.Scroll call.
type Scroll struct {
	Selector string
	End      bool
}

// Message is one Ctx.Publish: the topic and the value as JSON.
type Message struct {
	Topic string
	Data  json.RawMessage
}

// Decode decodes the published value into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Data, v) }

// Timer is a pending timer: what Info would get after After, as a Message whose
// Topic is "".
type Timer struct {
	ID    live.TimerID
	After time.Duration
	Data  json.RawMessage
}

// Message is the live.Message Info gets when the timer fires: pass it to the
// page's Info to test what follows.
func (t Timer) Message() live.Message { return live.Message{Data: t.Data} }

// Recorded returns what the callbacks did with ctx so far, a copy. It panics when
// ctx is not a recording Ctx (one from NewCtx).
func Recorded(ctx *live.Ctx) Record {
	r := record.Of(ctx)
	if r == nil {
		panic("livetest.Recorded: not a recording Ctx (make one with livetest.NewCtx)")
	}
	r.Mu.Lock()
	defer r.Mu.Unlock()
	rec := Record{
		Title: r.Title, TitleSet: r.TitleSet, Redirect: r.Redirect,
		Navigate: r.Navigate, NavigateReplace: r.NavigateReplace, Focus: r.Focus,
		Subscriptions: slices.Clone(r.Subscriptions),
		Browser:       maps.Clone(r.Browser),
		Errors:        slices.Clone(r.Errors),
	}
	if r.Scrolled {
		rec.Scroll = &Scroll{Selector: r.ScrollSelector, End: r.ScrollEnd}
	}
	for _, m := range r.Published {
		rec.Published = append(rec.Published, Message{Topic: m.Topic, Data: m.Data})
	}
	for _, t := range r.Timers {
		rec.Timers = append(rec.Timers, Timer{ID: live.TimerID(t.ID), After: t.After, Data: t.Data})
	}
	return rec
}

// Marks returns the region ids s marked with Mark, in order.
func Marks[T any](s *live.Session[T]) []string {
	marks, _, _, _, _ := record.Session(s)
	return slices.Clone(marks)
}

// MarkedAll tells whether s marked every region (MarkAll or ReplaceState).
func MarkedAll[T any](s *live.Session[T]) bool {
	_, all, _, _, _ := record.Session(s)
	return all
}

// Flash returns the flash messages s set, by kind ("info", "error"); a kind set
// twice keeps its last message, as the page would show.
func Flash[T any](s *live.Session[T]) map[string]string {
	_, _, kinds, messages, _ := record.Session(s)
	m := map[string]string{}
	for i, k := range kinds {
		m[k] = messages[i]
	}
	return m
}

// CheckMarks fails when s marked a region that page's View does not declare,
// which the library refuses at run time (the callback then fails). The root id
// "lv-root" is always allowed.
func CheckMarks[T any](page live.Page[T], s *live.Session[T]) error {
	regions := page.View().Regions
	for _, id := range Marks(s) {
		if _, ok := regions[id]; !ok && id != "lv-root" {
			return fmt.Errorf("livetest: %T marked region %q, which its View does not declare (it declares %v)",
				page, id, slices.Sorted(maps.Keys(regions)))
		}
	}
	return nil
}
