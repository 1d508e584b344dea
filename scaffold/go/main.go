// __NAME__: a counter at /counter and a live list at /list.
//
//	make run    (serves on $MIZULIVE_ADDR, default 127.0.0.1:3000; MIZULIVE_DEV=1 for dev mode)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	lv, err := newApp("views", os.Getenv("MIZULIVE_DEV") != "")
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
	if addr, err := lv.Addr(); err == nil {
		fmt.Printf("__NAME__ on http://%s/counter and http://%s/list\n", addr, addr)
	}
	<-ctx.Done()
	if err := lv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
