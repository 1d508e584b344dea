package main

import (
	"fmt"
	"sync"

	"github.com/mizulive/mizulive/bindings/go/live"
)

const (
	logMax   = 10
	itemsMax = 50
	textMax  = 80
)

// CounterState is the counter's state; the json names are what the templates
// read: {{ state.count }}, {{ state.log }}.
type CounterState struct {
	Count int      `json:"count"`
	Log   []string `json:"log"`
}

// CounterPage: + and - buttons, the count and a short log, one count per page
// session.
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
	sign := map[string]int{"inc": 1, "dec": -1}[e.Name]
	if sign == 0 {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	by := 1
	if _, ok := e.Lookup("by"); ok {
		n, err := e.Int("by")
		if err != nil {
			return err
		}
		by = n
	}
	s.State.Count += sign * by
	s.State.Log = append(s.State.Log, fmt.Sprintf("%s %d → %d", e.Name, by, s.State.Count))
	if len(s.State.Log) > logMax {
		s.State.Log = s.State.Log[len(s.State.Log)-logMax:]
	}
	s.Mark("stats", "log")
	return nil
}

func (p *CounterPage) Info(ctx *live.Ctx, s *live.Session[CounterState], msg live.Message) error {
	return nil
}

// Item is one entry of the live list.
type Item struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// ListState is the list page's state.
type ListState struct {
	Items []Item  `json:"items"`
	Added int     `json:"added"`
	Error *string `json:"error"`
}

// Shared is the list every page starts from (a database in a real app).
type Shared struct {
	mu     sync.Mutex
	items  []Item
	nextID int
}

func (sh *Shared) Items() []Item {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return append([]Item{}, sh.items...)
}

func (sh *Shared) Add(text string) Item {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.nextID++
	item := Item{ID: sh.nextID, Text: text}
	sh.items = append(sh.items, item)
	if len(sh.items) > itemsMax {
		sh.items = sh.items[len(sh.items)-itemsMax:]
	}
	return item
}

// ListPage is a list every open page sees grow: an added item is published on
// the topic "list" and every page subscribed to it appends it.
type ListPage struct {
	Shared *Shared
}

func (p *ListPage) Mount(ctx *live.Ctx, s *live.Session[ListState]) error {
	s.State = ListState{Items: p.Shared.Items()}
	return ctx.Subscribe("list")
}

func (p *ListPage) View() live.View {
	return live.View{
		Page:    "list/index",
		Regions: map[string]string{"new": "list/new", "items": "list/items"},
	}
}

func (p *ListPage) Handle(ctx *live.Ctx, s *live.Session[ListState], e live.Event) error {
	if e.Name != "add" {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	text := e.Text("text")
	s.Mark("new")
	problem := ""
	switch {
	case text == "":
		problem = "Write something first."
	case len([]rune(text)) > textMax:
		problem = fmt.Sprintf("At most %d characters, please.", textMax)
	}
	if problem != "" {
		s.State.Error = &problem
		return nil
	}
	s.State.Error = nil
	s.State.Added++
	// Every page on the topic, this one included, appends it in Info.
	return ctx.Publish("list", p.Shared.Add(text))
}

func (p *ListPage) Info(ctx *live.Ctx, s *live.Session[ListState], msg live.Message) error {
	var item Item
	if err := msg.Decode(&item); err != nil {
		return err
	}
	s.State.Items = append(s.State.Items, item)
	if len(s.State.Items) > itemsMax {
		s.State.Items = s.State.Items[len(s.State.Items)-itemsMax:]
	}
	s.Mark("items")
	return nil
}

// newApp builds the app on a views folder with both pages registered; the tests
// build theirs with it too.
func newApp(views string, dev bool) (*live.App, error) {
	lv, err := live.New(live.Options{Views: views, Dev: dev})
	if err != nil {
		return nil, err
	}
	if err := live.Register(lv, "/counter", &CounterPage{}); err != nil {
		lv.Close()
		return nil, err
	}
	if err := live.Register(lv, "/list", &ListPage{Shared: &Shared{}}); err != nil {
		lv.Close()
		return nil, err
	}
	return lv, nil
}
