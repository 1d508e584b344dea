// The mizulive counter inside the program's own net/http server: the page is an
// http.Handler on the program's ServeMux, next to its own routes and behind its
// own middleware, and the library opens no port of its own.
//
//	make go-embed    # at the repository root; or, after cargo build --release there:
//	PKG_CONFIG_PATH=$PWD/target/release/pkgconfig go -C bindings/go run ./examples/embed
//
// It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000) and prints
// "counter listening on http://ADDR/counter" first; Ctrl-C (or SIGTERM) stops it
// gracefully. $MIZULIVE_VIEWS overrides the views folder, $MIZULIVE_DEV turns on
// dev mode.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	lv, err := live.New(live.Options{Views: viewsDir(), Dev: os.Getenv("MIZULIVE_DEV") != ""})
	if err != nil {
		return err
	}
	defer lv.Close()
	counter, err := live.PageHandler(lv, "/counter", &CounterPage{})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/counter", counter)
	lv.Mount(mux) // /_live/: the runtime script and the WebSocket
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/counter", http.StatusSeeOther)
	})

	addr := os.Getenv("MIZULIVE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("counter listening on http://%s/counter\n", ln.Addr()) // os.Stdout is unbuffered
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Println("stopping")
	// First the HTTP requests in flight, then the live sockets: the library tells
	// each browser to reconnect and runs every session's Terminate.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return lv.Close()
}

// logRequests is the program's own middleware: every request, live pages and the
// WebSocket included, goes through it.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slog.Debug("request", "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

// viewsDir is $MIZULIVE_VIEWS, else ./views when there is one, else the C counter's
// views (examples-c/counter/views), found from this source file so `go run` works
// from anywhere in the checkout. One set of templates serves every host language.
func viewsDir() string {
	if dir := os.Getenv("MIZULIVE_VIEWS"); dir != "" {
		return dir
	}
	if st, err := os.Stat("views"); err == nil && st.IsDir() {
		return "views"
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "examples-c", "counter", "views")
	}
	return "views"
}
