package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mizulive/mizulive/bindings/go/live"
)

const (
	feedTopic = "feed"
	// logKeep, feedKeep and roomKeep bound the counter's log, the feed's items
	// and a room's messages.
	logKeep  = 10
	feedKeep = 5
	roomKeep = 50
	// tickEvery is the form page's clock period.
	tickEvery = 200 * time.Millisecond
	// nameError is the form's message for a name of 1 or 2 characters.
	nameError = "Name must be at least 3 characters"
	// boomMessage is what the counter's boom event fails with.
	boomMessage = "boom: the detailed reason"
)

func roomTopic(room string) string { return "room:" + room }

// register adds every page of the conformance app to lv.
func register(lv *live.App) error {
	counter := &CounterPage{}
	for _, route := range []string{"/counter", "/"} {
		if err := live.Register(lv, route, counter); err != nil {
			return err
		}
	}
	if err := live.Register(lv, "/form", &FormPage{}); err != nil {
		return err
	}
	if err := live.Register(lv, "/feed", &FeedPage{}); err != nil {
		return err
	}
	return live.Register(lv, "/rooms/{room}", &RoomPage{})
}

// ---- /counter and / ----

// CounterState is {"count": 0, "log": []} after mount.
type CounterState struct {
	Count int      `json:"count"`
	Log   []string `json:"log"`
}

// CounterPage counts with inc, dec and slow, and fails with boom.
type CounterPage struct{}

func (p *CounterPage) Mount(ctx *live.Ctx, s *live.Session[CounterState]) error {
	s.State = CounterState{Count: 0, Log: []string{}}
	return nil
}

func (p *CounterPage) View() live.View {
	return live.View{
		Page:    "counter/index",
		Regions: map[string]string{"stats": "counter/stats", "log": "counter/log"},
	}
}

func (p *CounterPage) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
	st := &s.State
	switch e.Name {
	case "inc", "dec":
		by := 1
		if _, ok := e.Lookup("by"); ok {
			n, err := e.Int("by")
			if err != nil {
				return err
			}
			by = n
		}
		if e.Name == "inc" {
			st.Count += by
		} else {
			st.Count -= by
		}
		st.logf("%s %d → %d", e.Name, by, st.Count)
	case "slow":
		time.Sleep(time.Second)
		st.Count++
		st.logf("slow 1 → %d", st.Count)
	case "boom":
		// The change is never stored: a failing callback keeps the previous state.
		st.Count += 100
		return errors.New(boomMessage)
	default:
		return fmt.Errorf("unknown event %q", e.Name)
	}
	s.Mark("stats", "log")
	return nil
}

func (p *CounterPage) Info(ctx *live.Ctx, s *live.Session[CounterState], msg live.Message) error {
	return nil
}

// logf appends an entry to the log, keeping the last logKeep.
func (st *CounterState) logf(format string, args ...any) {
	st.Log = append(st.Log, fmt.Sprintf(format, args...))
	if len(st.Log) > logKeep {
		st.Log = st.Log[len(st.Log)-logKeep:]
	}
}

// ---- /form ----

// FormState is {"name": "", "error": "", "validations": 0, "ticks": 0, "saved": []}
// after mount.
type FormState struct {
	Name        string   `json:"name"`
	Error       string   `json:"error"`
	Validations int      `json:"validations"`
	Ticks       int      `json:"ticks"`
	Saved       []string `json:"saved"`
}

// FormPage validates and saves a name, ticks a clock, and redirects or navigates.
type FormPage struct{}

func (p *FormPage) Mount(ctx *live.Ctx, s *live.Session[FormState]) error {
	s.State = FormState{Saved: []string{}}
	_, err := ctx.SendAfter(tickEvery, "tick")
	return err
}

func (p *FormPage) View() live.View {
	return live.View{
		Page: "form/index",
		Regions: map[string]string{
			"flash":  "form/flash",
			"errors": "form/errors",
			"count":  "form/count",
			"clock":  "form/clock",
		},
	}
}

func (p *FormPage) Handle(ctx *live.Ctx, s *live.Session[FormState], e live.Event) error {
	st := &s.State
	switch e.Name {
	case "validate":
		st.validate(formName(e))
		s.Mark("errors", "count")
	case "save":
		st.validate(formName(e))
		if st.Error == "" {
			st.Saved = append(st.Saved, st.Name)
			s.Flash.Info("Saved " + st.Name)
			st.Name = ""
		}
		s.Mark("flash", "errors", "count")
	case "go-redirect":
		return ctx.Redirect("/counter")
	case "go-navigate":
		return ctx.Navigate("/feed", false)
	default:
		return fmt.Errorf("unknown event %q", e.Name)
	}
	return nil
}

func (p *FormPage) Info(ctx *live.Ctx, s *live.Session[FormState], msg live.Message) error {
	if !msg.IsTimer() {
		return nil // the form subscribes to nothing
	}
	s.State.Ticks++
	s.Mark("clock")
	_, err := ctx.SendAfter(tickEvery, "tick")
	return err
}

// formName is form.name[0] of an event, as sent (untrimmed), or "".
func formName(e live.Event) string {
	if vs := e.Form["name"]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// validate counts a validation and takes name, setting the error for a name of
// 1 or 2 characters.
func (st *FormState) validate(name string) {
	st.Validations++
	st.Name = name
	if n := utf8.RuneCountInString(name); n > 0 && n < 3 {
		st.Error = nameError
	} else {
		st.Error = ""
	}
}

// ---- /feed ----

// FeedState holds the latest feed messages, newest first.
type FeedState struct {
	Items []json.RawMessage `json:"items"`
}

// FeedPage shows the last feedKeep messages published on feedTopic.
type FeedPage struct{}

func (p *FeedPage) Mount(ctx *live.Ctx, s *live.Session[FeedState]) error {
	s.State = FeedState{Items: []json.RawMessage{}}
	return ctx.Subscribe(feedTopic)
}

func (p *FeedPage) View() live.View {
	return live.View{Page: "feed/index", Regions: map[string]string{"items": "feed/items"}}
}

func (p *FeedPage) Handle(ctx *live.Ctx, s *live.Session[FeedState], e live.Event) error {
	return fmt.Errorf("unknown event %q", e.Name)
}

func (p *FeedPage) Info(ctx *live.Ctx, s *live.Session[FeedState], msg live.Message) error {
	if msg.Topic != feedTopic {
		return nil // a lag notice: the next items arrive anyway
	}
	items := append([]json.RawMessage{msg.Data}, s.State.Items...)
	if len(items) > feedKeep {
		items = items[:feedKeep]
	}
	s.State.Items = items
	s.Mark("items")
	return nil
}

// ---- /rooms/{room} ----

// RoomState is {"room": <param room>, "messages": []} after mount.
type RoomState struct {
	Room     string            `json:"room"`
	Messages []json.RawMessage `json:"messages"`
}

// RoomMessage is what send publishes on the room's topic.
type RoomMessage struct {
	Text string `json:"text"`
}

// RoomPage is a chat room: send publishes, every session in the room shows it.
type RoomPage struct{}

func (p *RoomPage) Mount(ctx *live.Ctx, s *live.Session[RoomState]) error {
	room := ctx.Param("room")
	s.State = RoomState{Room: room, Messages: []json.RawMessage{}}
	return ctx.Subscribe(roomTopic(room))
}

func (p *RoomPage) View() live.View {
	return live.View{Page: "room/index", Regions: map[string]string{"messages": "room/messages"}}
}

func (p *RoomPage) Handle(ctx *live.Ctx, s *live.Session[RoomState], e live.Event) error {
	if e.Name != "send" {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	var text string
	if vs := e.Form["text"]; len(vs) > 0 {
		text = strings.TrimSpace(vs[0])
	}
	if text == "" {
		return nil
	}
	return ctx.Publish(roomTopic(s.State.Room), RoomMessage{Text: text})
}

func (p *RoomPage) Info(ctx *live.Ctx, s *live.Session[RoomState], msg live.Message) error {
	if msg.Topic != roomTopic(s.State.Room) {
		return nil // a lag notice
	}
	msgs := append(s.State.Messages, msg.Data)
	if len(msgs) > roomKeep {
		msgs = msgs[len(msgs)-roomKeep:]
	}
	s.State.Messages = msgs
	s.Mark("messages")
	return nil
}
