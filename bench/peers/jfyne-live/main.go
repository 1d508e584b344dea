// The peer benchmark's pages (bench/peers/PAGES.md) built with github.com/jfyne/live:
// one live.Handler per page, each served by its own engine, and the counter's broadcast
// sent through live's PubSub on a local transport.
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/jfyne/live"
)

//go:embed views/*.html
var views embed.FS

// rows is the number of rows of the table page.
const rows = 100

// broadcasts is the server-wide broadcast number every counter session shows.
var broadcasts atomic.Int64

// counter is one counter session's state.
type counter struct {
	Count int
	Bcast int64
}

// counterOf returns the session's counter, or a new one when the session has none yet
// (the first mount, on the GET).
func counterOf(s *live.Socket) *counter {
	if c, ok := s.Assigns().(*counter); ok {
		return c
	}
	return &counter{Bcast: broadcasts.Load()}
}

type table struct {
	Values [rows]int
}

func tableOf(s *live.Socket) *table {
	if t, ok := s.Assigns().(*table); ok {
		return t
	}
	return &table{}
}

type list struct {
	Items []string
}

func listOf(s *live.Socket) *list {
	if l, ok := s.Assigns().(*list); ok {
		return l
	}
	return &list{}
}

// page parses the layout with one page's view.
func page(name string) (*template.Template, error) {
	return template.ParseFS(views, "views/layout.html", "views/"+name+".html")
}

func counterHandler() (*live.Handler, error) {
	t, err := page("counter")
	if err != nil {
		return nil, err
	}
	h := live.NewHandler(live.WithTemplateRenderer(t))
	h.MountHandler = func(ctx context.Context, s *live.Socket) (any, error) {
		return counterOf(s), nil
	}
	h.HandleEvent("inc", func(ctx context.Context, s *live.Socket, _ live.Params) (any, error) {
		c := counterOf(s)
		c.Count++
		return c, nil
	})
	h.HandleEvent("broadcast", func(ctx context.Context, s *live.Socket, _ live.Params) (any, error) {
		// Every counter session, this one included, gets the new value through the
		// "bc" self event below.
		if err := s.Broadcast("bc", broadcasts.Add(1)); err != nil {
			return nil, err
		}
		return counterOf(s), nil
	})
	h.HandleSelf("bc", func(ctx context.Context, s *live.Socket, data any) (any, error) {
		c := counterOf(s)
		// The local transport hands the value over as it was sent; a transport that
		// goes through JSON would turn it into a float64.
		switch n := data.(type) {
		case int64:
			c.Bcast = n
		case float64:
			c.Bcast = int64(n)
		default:
			return c, fmt.Errorf("broadcast value of type %T", data)
		}
		return c, nil
	})
	return h, nil
}

func tableHandler() (*live.Handler, error) {
	t, err := page("table")
	if err != nil {
		return nil, err
	}
	h := live.NewHandler(live.WithTemplateRenderer(t))
	h.MountHandler = func(ctx context.Context, s *live.Socket) (any, error) {
		return tableOf(s), nil
	}
	h.HandleEvent("bump", func(ctx context.Context, s *live.Socket, p live.Params) (any, error) {
		t := tableOf(s)
		row := p.Int("row")
		if row < 0 || row >= rows {
			return t, fmt.Errorf("row %d is not in 0..%d", row, rows)
		}
		t.Values[row]++
		return t, nil
	})
	return h, nil
}

func listHandler() (*live.Handler, error) {
	t, err := page("list")
	if err != nil {
		return nil, err
	}
	h := live.NewHandler(live.WithTemplateRenderer(t))
	h.MountHandler = func(ctx context.Context, s *live.Socket) (any, error) {
		return listOf(s), nil
	}
	h.HandleEvent("add", func(ctx context.Context, s *live.Socket, _ live.Params) (any, error) {
		l := listOf(s)
		l.Items = append(l.Items, fmt.Sprintf("item-%d", len(l.Items)+1))
		return l, nil
	})
	return h, nil
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	counterH, err := counterHandler()
	if err != nil {
		return err
	}
	tableH, err := tableHandler()
	if err != nil {
		return err
	}
	listH, err := listHandler()
	if err != nil {
		return err
	}
	counterE := live.NewHttpHandler(ctx, counterH)
	pubsub := live.NewPubSub(ctx, live.NewLocalTransport())
	pubsub.Subscribe("counter", counterE)

	mux := http.NewServeMux()
	mux.Handle("/counter", counterE)
	mux.Handle("/table", live.NewHttpHandler(ctx, tableH))
	mux.Handle("/list", live.NewHttpHandler(ctx, listH))
	mux.Handle("/live.js", live.Javascript{})
	mux.Handle("/auto.js.map", live.JavascriptMap{})

	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("peer listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		// Websockets are hijacked connections, which Close does not wait for; the
		// process exits right after.
		if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}
