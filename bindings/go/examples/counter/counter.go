package main

import (
	"fmt"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// logMax keeps the page small: the log shows the last few entries only.
const logMax = 10

// CounterState is the page's state. The json names are what the templates see:
// {{ state.count }}, {{ state.log }}.
type CounterState struct {
	Count int      `json:"count"`
	Log   []string `json:"log"`
}

// CounterPage is the seed's counter: + and - buttons, a count region and a log
// region. It works live over the WebSocket and, with JavaScript off, as plain
// form posts.
type CounterPage struct{}

func (p *CounterPage) Mount(ctx *live.Ctx, s *live.Session[CounterState]) error {
	s.State = CounterState{Count: 0, Log: []string{}}
	return nil
}

func (p *CounterPage) View() live.View {
	return live.View{
		Page: "counter/index",
		Regions: map[string]string{
			"stats": "counter/stats",
			"log":   "counter/log",
		},
	}
}

func (p *CounterPage) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
	sign := 0
	switch e.Name {
	case "inc":
		sign = 1
	case "dec":
		sign = -1
	default:
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

// newApp builds the counter app on a views folder: the page at /counter and /.
func newApp(views string, dev bool) (*live.App, error) {
	lv, err := live.New(live.Options{Views: views, Dev: dev})
	if err != nil {
		return nil, err
	}
	for _, route := range []string{"/counter", "/"} {
		if err := live.Register(lv, route, &CounterPage{}); err != nil {
			lv.Close()
			return nil, err
		}
	}
	return lv, nil
}
