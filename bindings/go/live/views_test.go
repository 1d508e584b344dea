package live_test

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// The test views, compiled into the test binary.
//
//go:embed testdata/views
var embedded embed.FS

// fsOptions are testOptions with the views taken from fsys instead of a folder.
func fsOptions(fsys fs.FS) live.Options {
	opts := testOptions(false)
	opts.Views, opts.ViewsFS = "", fsys
	return opts
}

// The counter served from an embed.FS: the full page on GET, then patches over the
// socket, with no views folder read at run time (the working directory has none,
// so without ViewsFS New would fail on the default "views").
func TestViewsFromEmbedFS(t *testing.T) {
	sub, err := fs.Sub(embedded, "testdata/views")
	must(t, err)
	_, base := startApp(t, fsOptions(sub), func(lv *live.App) {
		must(t, live.Register(lv, "/counter", &CounterPage{}))
	})
	p := livetest.Get(t, base+"/counter")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /counter: %d", p.Status)
	}
	contains(t, "page", p.HTML, `<title>live tests</title>`)
	contains(t, "page", p.HTML, `<strong id="count">0</strong>`)
	c := livetest.Join(t, p)
	r := c.MustClick("inc", map[string]string{"by": "3"})
	contains(t, "stats", region(t, r, "stats"), `<strong id="count">3</strong>`)
	contains(t, "log", region(t, r, "log"), "<li>inc 3 → 3</li>")
}

// Any fs.FS works; files outside layouts/, pages/ and partials/ are left out.
func TestViewsFromMapFS(t *testing.T) {
	fsys := fstest.MapFS{
		"layouts/default.html":        {Data: []byte(`<html><body class="mapfs">{{ content }}</body></html>`)},
		"pages/deep/er/counter.html":  {Data: []byte(`<div id="lv-root" data-lv><div id="stats">{{ partial("n") }}</div></div>`)},
		"partials/n.html":             {Data: []byte(`n={{ state.count }}`)},
		"README.md":                   {Data: []byte("not a template \xff")},
		"static/app.css":              {Data: []byte("body{}")},
		"partials/unused/notes.txt":   {Data: []byte("{{ fine }}")},
		"layouts/.keep":               {Data: nil},
		"pages/deep/er/unused.html":   {Data: []byte("unused")},
		"partials/counter/stats.html": {Data: []byte("unused")},
	}
	lv, base := startApp(t, fsOptions(fsys), func(lv *live.App) {
		must(t, live.Register(lv, "/counter", &mapCounter{}))
	})
	p := livetest.Get(t, base+"/counter")
	contains(t, "page", p.HTML, `<body class="mapfs"><div id="lv-root" data-lv><div id="stats">n=0</div></div>`)
	r := livetest.Join(t, p).MustClick("inc", map[string]string{"by": "2"})
	contains(t, "stats", region(t, r, "stats"), "n=2")
	if _, err := lv.Render("static/app.css", nil); err == nil {
		t.Fatal("a file outside the views folders was handed to the library")
	}
}

// mapCounter is the counter over TestViewsFromMapFS's templates.
type mapCounter struct{ CounterPage }

func (p *mapCounter) View() live.View {
	return live.View{Page: "deep/er/counter", Regions: map[string]string{"stats": "n"}}
}

func (p *mapCounter) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
	by, err := e.Int("by")
	s.State.Count += by
	s.Mark("stats")
	return err
}

func TestViewsFSErrors(t *testing.T) {
	sub, err := fs.Sub(embedded, "testdata/views")
	must(t, err)
	both := fsOptions(sub)
	both.Views = views()
	if _, err := live.New(both); !errors.Is(err, live.ErrConfig) || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("Views and ViewsFS both set: %v", err)
	}
	// The embed.FS itself, not its views folder: the error says what to pass.
	_, err = live.New(fsOptions(embedded))
	if !errors.Is(err, live.ErrConfig) || !strings.Contains(err.Error(), `fs.Sub(files, "testdata")`) {
		t.Fatalf("an embed.FS one folder up: %v", err)
	}
	_, err = live.New(fsOptions(fstest.MapFS{"pages/a.html": {Data: []byte("\xff\xfe")}}))
	if !errors.Is(err, live.ErrConfig) || !strings.Contains(err.Error(), "pages/a.html is not UTF-8") {
		t.Fatalf("a template that is not UTF-8: %v", err)
	}
	_, err = live.New(fsOptions(fstest.MapFS{"pages/a.html": {Data: []byte("{% if %}")}}))
	if err == nil || !strings.Contains(err.Error(), "pages/a.html") {
		t.Fatalf("a template that does not compile: %v", err)
	}
	// A page whose template is missing is refused at Register, as with a folder.
	lv, err := live.New(fsOptions(fstest.MapFS{"partials/n.html": {Data: []byte("n")}}))
	must(t, err)
	defer lv.Close()
	if err := live.Register(lv, "/counter", &CounterPage{}); !errors.Is(err, live.ErrTemplate) {
		t.Fatalf("Register without the page template: %v", err)
	}
}
