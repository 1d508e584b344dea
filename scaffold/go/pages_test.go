package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/livetest"
)

// One callback at a time, without a server: the state changes and the regions
// marked are the page's own.
func TestCounterCounts(t *testing.T) {
	page := &CounterPage{}
	ctx := livetest.NewCtx(nil)
	s := livetest.NewSession(ctx, CounterState{})
	if err := page.Mount(ctx, s); err != nil {
		t.Fatal(err)
	}
	click := live.Event{Type: "click", Name: "inc", Values: map[string]string{"by": "1"}}
	for i := 0; i < 3; i++ {
		if err := page.Handle(ctx, s, click); err != nil {
			t.Fatal(err)
		}
	}
	if s.State.Count != 3 || s.State.Log[2] != "inc 1 → 3" {
		t.Fatalf("after three clicks: %+v", s.State)
	}
	if err := livetest.CheckMarks(page, s); err != nil {
		t.Fatal(err)
	}
	s = livetest.NewSession(ctx, s.State)
	if err := page.Handle(ctx, s, live.Event{Type: "click", Name: "reset"}); err == nil {
		t.Fatal("an unknown event is refused")
	}
}

func TestListPublishesWhatIsAddedAndAppendsWhatArrives(t *testing.T) {
	page := &ListPage{Shared: &Shared{}}
	ctx := livetest.NewCtx(nil)
	s := livetest.NewSession(ctx, ListState{})
	if err := page.Mount(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := livetest.Recorded(ctx).Subscriptions; !slices.Equal(got, []string{"list"}) {
		t.Fatalf("subscriptions: %v", got)
	}

	add := func(text string) {
		t.Helper()
		err := page.Handle(ctx, s, live.Event{Type: "submit", Name: "add", Form: map[string][]string{"text": {text}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("   ")
	if s.State.Error == nil || !strings.Contains(*s.State.Error, "Write something") {
		t.Fatalf("an empty item is refused with a message: %+v", s.State)
	}
	if len(livetest.Recorded(ctx).Published) != 0 {
		t.Fatal("nothing is published for an empty item")
	}

	add("  milk ")
	published := livetest.Recorded(ctx).Published
	if len(published) != 1 || published[0].Topic != "list" {
		t.Fatalf("published: %+v", published)
	}
	var item Item
	if err := published[0].Decode(&item); err != nil || item.Text != "milk" {
		t.Fatalf("published item %+v (%v)", item, err)
	}
	if s.State.Error != nil || s.State.Added != 1 {
		t.Fatalf("after adding: %+v", s.State)
	}

	// What every subscribed page does when the item arrives.
	if err := page.Info(ctx, s, live.Message{Topic: "list", Data: published[0].Data}); err != nil {
		t.Fatal(err)
	}
	if len(s.State.Items) != 1 || s.State.Items[0] != item {
		t.Fatalf("items: %+v", s.State.Items)
	}
	if err := livetest.CheckMarks(page, s); err != nil {
		t.Fatal(err)
	}
	// A page mounted later starts from the shared list.
	if got := page.Shared.Items(); len(got) != 1 || got[0] != item {
		t.Fatalf("shared: %+v", got)
	}
}

// testApp is the app as main serves it (dev mode: a failing callback's message
// reaches the test), closed when the test ends.
func testApp(t *testing.T) *live.App {
	t.Helper()
	lv, err := newApp("views", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lv.Close() })
	return lv
}

// The counter as a browser shows it, headless and in-process: its buttons are
// clicked as rendered, so a typo in the template's event name fails here.
func TestCounterPage(t *testing.T) {
	page := livetest.Open(t, testApp(t), "/counter")
	page.Click("[data-lv-click=inc]")
	page.Click("[data-lv-click=inc]")
	page.Click("[data-lv-click=dec]")
	if got := page.Text("#count"); got != "1" {
		t.Fatalf("count after +, +, -: %q", got)
	}
	if got := page.Region("log"); !strings.Contains(got, "<li>dec 1 → 1</li>") {
		t.Fatalf("log: %q", got)
	}
	var st CounterState
	page.State(&st)
	if st.Count != 1 || len(st.Log) != 3 {
		t.Fatalf("state: %+v", st)
	}
}

// Two list pages: what one submits, both show; an empty item is refused on the
// page that sent it and reaches no one; a page opened later starts with the list.
func TestListPagesShowWhatAnyoneAdds(t *testing.T) {
	lv := testApp(t)
	a := livetest.Open(t, lv, "/list")
	b := livetest.Open(t, lv, "/list")
	a.Submit("#new-item", map[string]any{"text": "milk"})
	for name, page := range map[string]*livetest.Page{"a": a, "b": b} {
		if push := page.NextPush(5 * time.Second); push.Regions["items"] == "" {
			t.Fatalf("%s: the push does not change the items: %s", name, push)
		}
		if got := page.Text("#items li"); got != "milk" {
			t.Fatalf("%s shows %q", name, got)
		}
	}

	a.Submit("#new-item", map[string]any{"text": "   "})
	if got := a.Text("#new .error"); !strings.Contains(got, "Write something") {
		t.Fatalf("an empty item: %q", got)
	}
	b.NoPush(100 * time.Millisecond)

	if got := livetest.Open(t, lv, "/list").Text("#items"); !strings.Contains(got, "milk") {
		t.Fatalf("a later page shows %q", got)
	}
}
