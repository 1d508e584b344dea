package live_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// Secret signs every test app's tokens (at least 32 bytes).
const Secret = "mizulive-go-binding-tests-secret-0123456789"

func views() string { return filepath.Join("testdata", "views") }

// testOptions are the options every test app starts from.
func testOptions(dev bool) live.Options {
	return live.Options{Views: views(), Dev: dev, Secret: Secret, HostThreads: 2, IOThreads: 1}
}

// startApp creates an app from opts, lets setup register its pages, starts it on
// a free loopback port and closes it when the test ends. It returns the base URL.
func startApp(t *testing.T, opts live.Options, setup func(*live.App)) (*live.App, string) {
	t.Helper()
	lv, err := live.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := lv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if setup != nil {
		setup(lv)
	}
	if err := lv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr, err := lv.Addr()
	if err != nil {
		t.Fatalf("Addr: %v", err)
	}
	return lv, "http://" + addr
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// region returns a patch's HTML for a region, failing when it is absent.
func region(t *testing.T, r livetest.Result, id string) string {
	t.Helper()
	p := r.Patch(t)
	html, ok := p.Regions[id]
	if !ok {
		t.Fatalf("patch has no region %q: %s", id, p.Raw)
	}
	return html
}

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

func lacks(t *testing.T, what, got, unwanted string) {
	t.Helper()
	if strings.Contains(got, unwanted) {
		t.Fatalf("%s: %q contains %q", what, got, unwanted)
	}
}
