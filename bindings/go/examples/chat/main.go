// The mizulive chat in Go: rooms at /rooms/{room}, messages through pub/sub, who
// is here. Same views and behaviour as examples-python/chat.py.
//
//	make go-chat    # at the repository root; or, after cargo build --release there:
//	PKG_CONFIG_PATH=$PWD/target/release/pkgconfig go -C bindings/go run ./examples/chat
//
// It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000) and prints
// "chat listening on http://ADDR/rooms/lobby" first; Ctrl-C stops it gracefully.
// $MIZULIVE_VIEWS overrides the views folder, $MIZULIVE_DEV turns on dev mode.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

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
	if err := Register(lv, NewDirectory(), "/"); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lv.Start(""); err != nil { // "" = $MIZULIVE_ADDR, else 127.0.0.1:3000
		return err
	}
	addr, err := lv.Addr()
	if err != nil {
		return err
	}
	fmt.Printf("chat listening on http://%s/rooms/lobby\n", addr)
	<-ctx.Done()
	fmt.Println("stopping")
	return lv.Close()
}

// viewsDir is $MIZULIVE_VIEWS, else ./views when there is one, else the Python examples' views (examples-python/views), which the chat shares,
// found from this source file so `go run` works from anywhere in the checkout. One
// set of templates serves every host language.
func viewsDir() string {
	if dir := os.Getenv("MIZULIVE_VIEWS"); dir != "" {
		return dir
	}
	if st, err := os.Stat("views"); err == nil && st.IsDir() {
		return "views"
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "examples-python", "views")
	}
	return "views"
}
