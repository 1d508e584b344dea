package live_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// A region whose id no element of the page carries is refused at registration,
// naming the region and the page template; the template's file name is the page's too.
func TestRegisterRefusesARegionWithoutItsElement(t *testing.T) {
	lv, err := live.New(testOptions(false))
	must(t, err)
	defer func() { must(t, lv.Close()) }()
	view := live.View{Page: "counter/index", Regions: map[string]string{"stats": "counter/stats", "nolog": "counter/log"}}
	err = live.Register(lv, "/x", &viewPage{view: view})
	want := `region "nolog" has no element with id="nolog" in pages/counter/index.html`
	if !errors.Is(err, live.ErrPage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("a region without its element: %v, want ErrPage with %q", err, want)
	}
	named := live.View{Page: "pages/counter/index.html", Regions: map[string]string{"stats": "partials/counter/stats.html"}}
	must(t, live.Register(lv, "/named", &viewPage{view: named}))
}
