package livetest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/livetest"
)

type roomState struct {
	Room   string   `json:"room"`
	Lines  []string `json:"lines"`
	Timer  uint64   `json:"timer"`
	Ticked int      `json:"ticked"`
}

// roomPage uses every method of the Ctx, so each recording is seen.
type roomPage struct{}

func (roomPage) View() live.View {
	return live.View{Page: "room/index", Regions: map[string]string{"lines": "room/lines", "head": "room/head"}}
}

func (roomPage) Mount(ctx *live.Ctx, s *live.Session[roomState]) error {
	s.State = roomState{Room: ctx.Param("room"), Lines: []string{}}
	if err := ctx.Subscribe("room:" + s.State.Room); err != nil {
		return err
	}
	id, err := ctx.SendAfter(5*time.Second, map[string]string{"tick": s.State.Room})
	s.State.Timer = uint64(id)
	return err
}

func (roomPage) Handle(ctx *live.Ctx, s *live.Session[roomState], e live.Event) error {
	switch e.Name {
	case "say":
		line := fmt.Sprintf("%s: %s", ctx.UserID(), e.Text("text"))
		s.State.Lines = append(s.State.Lines, line)
		s.Mark("lines")
		s.Flash.Info("sent")
		if err := ctx.SetTitle(fmt.Sprintf("%d lines", len(s.State.Lines))); err != nil {
			return err
		}
		if err := ctx.Focus("#text"); err != nil {
			return err
		}
		if err := ctx.Scroll("#lines", true); err != nil {
			return err
		}
		return ctx.Publish("room:"+s.State.Room, map[string]string{"line": line})
	case "leave":
		if err := ctx.Unsubscribe("room:" + s.State.Room); err != nil {
			return err
		}
		if err := ctx.CancelTimer(live.TimerID(s.State.Timer)); err != nil {
			return err
		}
		if err := ctx.SetBrowser("last_room", s.State.Room); err != nil {
			return err
		}
		if err := ctx.DeleteBrowser("draft"); err != nil {
			return err
		}
		return ctx.Navigate("/rooms", true)
	case "out":
		return ctx.Redirect("https://example.com/")
	case "typo":
		s.Mark("lnes")
		return nil
	}
	return fmt.Errorf("unknown event %q", e.Name)
}

func (roomPage) Info(ctx *live.Ctx, s *live.Session[roomState], msg live.Message) error {
	if msg.Topic == "" {
		s.State.Ticked++
		s.MarkAll()
	}
	return nil
}

// One session's callbacks in a row against one recording Ctx: each effect is
// recorded, and the state is the page's.
func TestRecordingCtx(t *testing.T) {
	page := roomPage{}
	ctx := livetest.NewCtx(map[string]string{"room": "lobby"}, livetest.User("ana"), livetest.Browser("draft", "hi"))
	s := livetest.NewSession(ctx, roomState{})
	if s.ID != "test-session" || s.UserID != "ana" || ctx.BrowserID() != "test-browser" {
		t.Fatalf("session %q user %q browser %q", s.ID, s.UserID, ctx.BrowserID())
	}
	if err := page.Mount(ctx, s); err != nil {
		t.Fatal(err)
	}
	rec := livetest.Recorded(ctx)
	if s.State.Room != "lobby" || !slices.Equal(rec.Subscriptions, []string{"room:lobby"}) {
		t.Fatalf("after Mount: state %+v, subscriptions %v", s.State, rec.Subscriptions)
	}
	if len(rec.Timers) != 1 || rec.Timers[0].After != 5*time.Second || string(rec.Timers[0].Data) != `{"tick":"lobby"}` ||
		uint64(rec.Timers[0].ID) != s.State.Timer {
		t.Fatalf("timers: %+v (state timer %d)", rec.Timers, s.State.Timer)
	}

	// The timer's message fed to Info, as the library would deliver it.
	if err := page.Info(ctx, s, rec.Timers[0].Message()); err != nil || s.State.Ticked != 1 || !livetest.MarkedAll(s) {
		t.Fatalf("Info with the timer: %v, ticked %d, marked all %v", err, s.State.Ticked, livetest.MarkedAll(s))
	}

	s = livetest.NewSession(ctx, s.State)
	err := page.Handle(ctx, s, live.Event{Type: "submit", Name: "say", Form: map[string][]string{"text": {" hello "}}})
	if err != nil {
		t.Fatal(err)
	}
	rec = livetest.Recorded(ctx)
	if !slices.Equal(s.State.Lines, []string{"ana: hello"}) {
		t.Errorf("lines: %q", s.State.Lines)
	}
	if got := livetest.Marks(s); !slices.Equal(got, []string{"lines"}) || livetest.MarkedAll(s) {
		t.Errorf("marks: %v (all %v)", got, livetest.MarkedAll(s))
	}
	if got := livetest.Flash(s); !reflect.DeepEqual(got, map[string]string{"info": "sent"}) {
		t.Errorf("flash: %v", got)
	}
	if !rec.TitleSet || rec.Title != "1 lines" || rec.Focus != "#text" || rec.Scroll == nil || *rec.Scroll != (livetest.Scroll{Selector: "#lines", End: true}) {
		t.Errorf("title %q (%v), focus %q, scroll %+v", rec.Title, rec.TitleSet, rec.Focus, rec.Scroll)
	}
	var pub struct{ Line string }
	if len(rec.Published) != 1 || rec.Published[0].Topic != "room:lobby" || rec.Published[0].Decode(&pub) != nil || pub.Line != "ana: hello" {
		t.Errorf("published: %+v", rec.Published)
	}
	if err := livetest.CheckMarks(page, s); err != nil {
		t.Errorf("CheckMarks: %v", err)
	}

	s = livetest.NewSession(ctx, s.State)
	if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "leave"}); err != nil {
		t.Fatal(err)
	}
	rec = livetest.Recorded(ctx)
	if len(rec.Subscriptions) != 0 || len(rec.Timers) != 0 || rec.Navigate != "/rooms" || !rec.NavigateReplace {
		t.Errorf("after leave: subscriptions %v, timers %v, navigate %q (replace %v)", rec.Subscriptions, rec.Timers, rec.Navigate, rec.NavigateReplace)
	}
	if want := map[string]json.RawMessage{"last_room": json.RawMessage(`"lobby"`)}; !reflect.DeepEqual(rec.Browser, want) {
		t.Errorf("browser session: %s", rec.Browser)
	}
	if len(rec.Errors) != 0 {
		t.Errorf("errors: %v", rec.Errors)
	}

	// The second leave: the timer and the key are gone, as in the library.
	err = page.Handle(ctx, livetest.NewSession(ctx, s.State), live.Event{Type: "click", Name: "leave"})
	if !errors.Is(err, live.ErrNotFound) {
		t.Fatalf("cancelling a cancelled timer: %v, want ErrNotFound", err)
	}
	if rec = livetest.Recorded(ctx); len(rec.Errors) != 1 || !errors.Is(rec.Errors[0], live.ErrNotFound) {
		t.Errorf("recorded errors: %v", rec.Errors)
	}

	if err := page.Handle(ctx, livetest.NewSession(ctx, s.State), live.Event{Name: "out"}); err != nil || livetest.Recorded(ctx).Redirect != "https://example.com/" {
		t.Errorf("redirect: %v, %q", err, livetest.Recorded(ctx).Redirect)
	}
}

// Bad arguments fail as they would against the library, and are recorded.
func TestRecordingCtxRefusesWhatTheLibraryWould(t *testing.T) {
	ctx := livetest.NewCtx(nil)
	if err := ctx.SetTitle("a\x00b"); !errors.Is(err, live.ErrUTF8) {
		t.Errorf("a NUL in a title: %v", err)
	}
	if err := ctx.Publish("t", func() {}); err == nil || !strings.Contains(err.Error(), `encoding a message for "t"`) {
		t.Errorf("an unencodable publish: %v", err)
	}
	if err := ctx.DeleteBrowser("none"); !errors.Is(err, live.ErrNotFound) {
		t.Errorf("deleting a missing browser key: %v", err)
	}
	rec := livetest.Recorded(ctx)
	if len(rec.Errors) != 3 || rec.TitleSet || len(rec.Published) != 0 {
		t.Errorf("record: %+v", rec)
	}
	if got := ctx.Params(); got == nil || len(got) != 0 {
		t.Errorf("params: %v", got)
	}
}

// CheckMarks names a region the View does not declare.
func TestCheckMarks(t *testing.T) {
	ctx := livetest.NewCtx(nil)
	s := livetest.NewSession(ctx, roomState{})
	if err := (roomPage{}).Handle(ctx, s, live.Event{Name: "typo"}); err != nil {
		t.Fatal(err)
	}
	err := livetest.CheckMarks(roomPage{}, s)
	if err == nil || !strings.Contains(err.Error(), `marked region "lnes", which its View does not declare (it declares [head lines])`) {
		t.Fatalf("CheckMarks: %v", err)
	}
}

// Recorded refuses a Ctx of the library with a message that says what to do.
func TestRecordedNeedsARecordingCtx(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "livetest.NewCtx") {
			t.Fatalf("recover: %v", r)
		}
	}()
	livetest.Recorded(&live.Ctx{})
}
