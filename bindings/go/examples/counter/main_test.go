package main

import (
	"strings"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
)

// The built counter links libmizulive statically, listens on $MIZULIVE_ADDR,
// prints the bench's banner first, serves the seed's markup, counts over the
// WebSocket and stops cleanly on SIGINT.
func TestCounterProgram(t *testing.T) {
	bin := livetest.BuildExample(t, ".")
	livetest.LinksNoMizulive(t, bin)
	// Started outside the example's folder: it finds its views by itself.
	srv := livetest.StartExample(t, bin, t.TempDir(), "counter listening on ")
	defer srv.Stop(t)

	p := livetest.Get(t, srv.URL)
	for _, want := range []string{
		`<div id="lv-root" data-lv>`,
		`<div id="stats"><p>Count: <strong id="count">0</strong></p></div>`,
		`<div id="log"><ol></ol></div>`,
		`<button data-lv-click="dec" data-lv-value-by="1"`,
		`<button data-lv-click="inc" data-lv-value-by="1"`,
	} {
		if !contains(p.HTML, want) {
			t.Fatalf("the page lacks %q:\n%s", want, p.HTML)
		}
	}
	c := livetest.Join(t, p)
	r := c.MustClick("inc", map[string]string{"by": "1"})
	if got := r.Patch(t).Regions["stats"]; got != `<p>Count: <strong id="count">1</strong></p>` {
		t.Fatalf("stats after inc: %q", got)
	}
	for i := 0; i < 11; i++ {
		r = c.MustClick("dec", map[string]string{"by": "2"})
	}
	patch := r.Patch(t)
	if got := patch.Regions["stats"]; got != `<p>Count: <strong id="count">-21</strong></p>` {
		t.Fatalf("stats after 11 decs: %q", got)
	}
	// The log keeps the last ten entries.
	if got := patch.Regions["log"]; contains(got, "inc 1") || !contains(got, "<li>dec 2 → -21</li></ol>") {
		t.Fatalf("log: %q", got)
	}
	if r := c.Click("reset", nil); r.Reply.OK {
		t.Fatal("an unknown event succeeded")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
