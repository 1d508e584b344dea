// The peer benchmark's pages (bench/peers/PAGES.md) on the Go host: /counter, /table
// and /list, rendered from the views shared with the C and Python hosts.
//
// Listens on 127.0.0.1:$PORT (0 = a free port) and prints `peer listening on
// http://ADDR` once it accepts connections. MIZULIVE_VIEWS names the views folder.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/mizulive/mizulive/bindings/go/live"
)

const (
	rows  = 100
	topic = "bench-broadcast"
)

// broadcast is the server-wide value every /counter session shows.
var broadcast atomic.Int64

type counterState struct {
	Count int   `json:"count"`
	Bc    int64 `json:"bc"`
}

type counterPage struct{}

func (counterPage) Mount(ctx *live.Ctx, s *live.Session[counterState]) error {
	s.State = counterState{Bc: broadcast.Load()}
	return ctx.Subscribe(topic)
}

func (counterPage) View() live.View {
	return live.View{
		Page:    "bench/counter",
		Regions: map[string]string{"count": "bench/count", "bcast": "bench/bcast"},
	}
}

func (counterPage) Handle(ctx *live.Ctx, s *live.Session[counterState], e live.Event) error {
	switch e.Name {
	case "inc":
		s.State.Count++
		s.Mark("count")
		return nil
	case "broadcast":
		// Every session, this one included, shows the value when its info arrives.
		return ctx.Publish(topic, broadcast.Add(1))
	}
	return fmt.Errorf("unknown event %q", e.Name)
}

func (counterPage) Info(ctx *live.Ctx, s *live.Session[counterState], msg live.Message) error {
	if msg.Topic != topic {
		return nil
	}
	var bc int64
	if err := msg.Decode(&bc); err != nil {
		return err
	}
	s.State.Bc = bc
	s.Mark("bcast")
	return nil
}

type tableState struct {
	Rows []int `json:"rows"`
}

type tablePage struct{}

func (tablePage) Mount(ctx *live.Ctx, s *live.Session[tableState]) error {
	s.State = tableState{Rows: make([]int, rows)}
	return nil
}

func (tablePage) View() live.View {
	return live.View{Page: "bench/table", Regions: map[string]string{"rows": "bench/rows"}}
}

func (tablePage) Handle(ctx *live.Ctx, s *live.Session[tableState], e live.Event) error {
	if e.Name != "bump" {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	row, err := e.Int("row")
	if err != nil {
		return err
	}
	if row < 0 || row >= len(s.State.Rows) {
		return fmt.Errorf("bump: row %d out of range", row)
	}
	s.State.Rows[row]++
	s.Mark("rows")
	return nil
}

func (tablePage) Info(ctx *live.Ctx, s *live.Session[tableState], msg live.Message) error {
	return nil
}

type listState struct {
	Items []string `json:"items"`
}

type listPage struct{}

func (listPage) Mount(ctx *live.Ctx, s *live.Session[listState]) error {
	s.State = listState{Items: []string{}}
	return nil
}

func (listPage) View() live.View {
	return live.View{Page: "bench/list", Regions: map[string]string{"items": "bench/items"}}
}

func (listPage) Handle(ctx *live.Ctx, s *live.Session[listState], e live.Event) error {
	if e.Name != "add" {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	s.State.Items = append(s.State.Items, fmt.Sprintf("item-%d", len(s.State.Items)+1))
	s.Mark("items")
	return nil
}

func (listPage) Info(ctx *live.Ctx, s *live.Session[listState], msg live.Message) error {
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	views := os.Getenv("MIZULIVE_VIEWS")
	if views == "" {
		views = "../views"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	lv, err := live.New(live.Options{Views: views})
	if err != nil {
		return err
	}
	defer lv.Close()
	if err := live.Register(lv, "/counter", counterPage{}); err != nil {
		return err
	}
	if err := live.Register(lv, "/table", tablePage{}); err != nil {
		return err
	}
	if err := live.Register(lv, "/list", listPage{}); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lv.Start("127.0.0.1:" + port); err != nil {
		return err
	}
	addr, err := lv.Addr()
	if err != nil {
		return err
	}
	fmt.Printf("peer listening on http://%s\n", addr) // os.Stdout is unbuffered
	<-ctx.Done()
	return lv.Close()
}
