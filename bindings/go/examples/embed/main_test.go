package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
)

// The built program serves the seed's counter from its own server on
// $MIZULIVE_ADDR: the page, the runtime script and the WebSocket all come through
// its one port, and SIGINT stops it cleanly.
func TestEmbedProgram(t *testing.T) {
	bin := livetest.BuildExample(t, ".")
	livetest.LinksNoMizulive(t, bin)
	srv := livetest.StartExample(t, bin, t.TempDir(), "counter listening on ")
	defer srv.Stop(t)
	if !strings.HasSuffix(srv.URL, "/counter") {
		t.Fatalf("banner URL %q does not end in /counter", srv.URL)
	}

	p := livetest.Get(t, srv.URL)
	for _, want := range []string{
		`<div id="lv-root" data-lv>`,
		`<div id="stats"><p>Count: <strong id="count">0</strong></p></div>`,
		`<div id="log"><ol></ol></div>`,
		`<button data-lv-click="dec" data-lv-value-by="1"`,
		`<button data-lv-click="inc" data-lv-value-by="1"`,
	} {
		if !strings.Contains(p.HTML, want) {
			t.Fatalf("the page lacks %q:\n%s", want, p.HTML)
		}
	}
	base := strings.TrimSuffix(srv.URL, "/counter")
	if js := livetest.Get(t, base+"/_live/runtime.js"); js.Status != http.StatusOK {
		t.Fatalf("runtime.js: %d", js.Status)
	}
	if root := livetest.Get(t, base+"/"); root.Status != http.StatusSeeOther || root.Header.Get("Location") != "/counter" {
		t.Fatalf("the program's own route /: %d %q", root.Status, root.Header.Get("Location"))
	}
	c := livetest.Join(t, p)
	r := c.MustClick("inc", map[string]string{"by": "1"})
	if got := r.Patch(t).Regions["stats"]; got != `<p>Count: <strong id="count">1</strong></p>` {
		t.Fatalf("stats after inc: %q", got)
	}
	r = c.MustClick("dec", map[string]string{"by": "3"})
	if got := r.Patch(t).Regions["log"]; !strings.Contains(got, "<li>dec 3 → -2</li>") {
		t.Fatalf("log after dec: %q", got)
	}
	if ports, want := srv.Ports(t), []int{livetest.Port(t, base)}; !slices.Equal(ports, want) {
		t.Fatalf("the program listens on %v, want only %v", ports, want)
	}
}
