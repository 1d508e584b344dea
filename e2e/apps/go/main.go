// The mizulive conformance app in Go: the contract of e2e/SPEC.md over the shared
// views in e2e/views. The same app exists in C (e2e/apps/c) and Python
// (e2e/apps/python); the browser suite in e2e/tests runs against each.
//
//	cd e2e/apps/go && go build -o conformance . && ./conformance
//
// It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000), reads its views from
// $MIZULIVE_VIEWS (default: e2e/views of this checkout), runs in dev mode when
// $MIZULIVE_DEV is "1", and prints "conformance listening on http://ADDR/" as its
// first stdout line. SIGINT or SIGTERM stops it gracefully with exit status 0.
//
// With $E2E_EMBED set to "1" the same pages are served from the program's own
// net/http server (lv.Mount on a ServeMux), the library opening no port: the suite
// then checks the embedded path in a real browser.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// feedEvery is how often the publisher publishes on feedTopic.
const feedEvery = 300 * time.Millisecond

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run() error {
	lv, err := live.New(live.Options{Views: viewsDir(), Dev: os.Getenv("MIZULIVE_DEV") == "1"})
	if err != nil {
		return err
	}
	defer lv.Close() // a no-op after the Close below; frees the app on early returns
	if err := register(lv); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	addr, stopServing, err := serve(lv)
	if err != nil {
		return err
	}
	// os.Stdout is unbuffered: the line is out as soon as Printf returns.
	fmt.Printf("conformance listening on http://%s/\n", addr)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		publishFeed(lv, done)
	}()

	<-ctx.Done()
	close(done)
	wg.Wait() // no publish races the shutdown
	stopServing()
	return lv.Close()
}

// serve starts serving on $MIZULIVE_ADDR (else 127.0.0.1:3000): with the library's
// own listener, or with $E2E_EMBED=1 from a net/http server of the program's own.
// It returns the bound address and what stops the program's server.
func serve(lv *live.App) (string, func(), error) {
	if os.Getenv("E2E_EMBED") != "1" {
		if err := lv.Start(""); err != nil { // "" = $MIZULIVE_ADDR, else 127.0.0.1:3000
			return "", nil, err
		}
		addr, err := lv.Addr()
		return addr, func() {}, err
	}
	want := os.Getenv("MIZULIVE_ADDR")
	if want == "" {
		want = "127.0.0.1:3000"
	}
	ln, err := net.Listen("tcp", want)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	lv.Mount(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "conformance:", err)
		}
	}()
	return ln.Addr().String(), func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

// FeedItem is what the publisher sends on feedTopic.
type FeedItem struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// publishFeed publishes {"n": N, "text": "item N"} (N = 1, 2, ...) on feedTopic
// every feedEvery until done is closed.
func publishFeed(lv *live.App, done <-chan struct{}) {
	ticker := time.NewTicker(feedEvery)
	defer ticker.Stop()
	for n := 1; ; n++ {
		select {
		case <-done:
			return
		case <-ticker.C:
		}
		if err := lv.Publish(feedTopic, FeedItem{N: n, Text: fmt.Sprintf("item %d", n)}); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: publishing on feed:", err)
		}
	}
}

// viewsDir is $MIZULIVE_VIEWS, else e2e/views of this checkout, found from this
// source file so the binary runs from anywhere (the suite always sets the
// variable).
func viewsDir() string {
	if dir := os.Getenv("MIZULIVE_VIEWS"); dir != "" {
		return dir
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "views")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	return filepath.Join("..", "..", "views") // e2e/views from e2e/apps/go
}
