package live_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// The first New of a process raises GOMAXPROCS by one, once; KeepGOMAXPROCS or a
// GOMAXPROCS in the environment leaves it alone. Each case runs in a process of its
// own, since the raise happens once per process.
func TestNewRaisesGOMAXPROCSOnce(t *testing.T) {
	if step := os.Getenv("LIVE_PROCS_CASE"); step != "" {
		procsCase(t, step)
		return
	}
	for _, c := range []struct{ name, env, want string }{
		{"default", "", "2 3 3"},
		{"keep", "", "2 2 2"},
		{"environment", "GOMAXPROCS=2", "2 2 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNewRaisesGOMAXPROCSOnce$", "-test.v")
			cmd.Env = append(os.Environ(), "LIVE_PROCS_CASE="+c.name)
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "procs: "+c.want+"\n") {
				t.Fatalf("want procs %q (before New, after it, after a second New):\n%s", c.want, out)
			}
		})
	}
}

// procsCase prints GOMAXPROCS before New, after it and after a second New.
func procsCase(t *testing.T, name string) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2)
	}
	seen := []int{runtime.GOMAXPROCS(0)}
	for range 2 {
		opts := testOptions(false)
		opts.KeepGOMAXPROCS = name == "keep"
		lv, err := live.New(opts)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		seen = append(seen, runtime.GOMAXPROCS(0))
		if err := lv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	fmt.Printf("procs: %d %d %d\n", seen[0], seen[1], seen[2])
}
