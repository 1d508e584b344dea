// The mizulive counter in Go: the seed's Page[T] over libmizulive.
//
//	make go-counter    # at the repository root; or, after cargo build --release there:
//	PKG_CONFIG_PATH=$PWD/target/release/pkgconfig go -C bindings/go run ./examples/counter
//
// It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000) and prints
// "counter listening on http://ADDR/counter" first; Ctrl-C stops it gracefully.
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
)

func main() {
	lv, err := newApp(viewsDir(), os.Getenv("MIZULIVE_DEV") != "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lv.Start(""); err != nil { // "" = $MIZULIVE_ADDR, else 127.0.0.1:3000
		fmt.Fprintln(os.Stderr, err)
		lv.Close()
		os.Exit(1)
	}
	addr, err := lv.Addr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		lv.Close()
		os.Exit(1)
	}
	fmt.Printf("counter listening on http://%s/counter\n", addr) // os.Stdout is unbuffered
	<-ctx.Done()
	fmt.Println("stopping")
	if err := lv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// viewsDir is $MIZULIVE_VIEWS, else ./views when there is one, else the C counter's views (examples-c/counter/views),
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
		return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "examples-c", "counter", "views")
	}
	return "views"
}
