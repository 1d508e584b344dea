// Package live is the Go binding of mizulive, a LiveView-style runtime: pages
// render on the server, the browser sends events over a WebSocket, and only the
// regions a callback marks are re-rendered and patched into the page.
//
// The runtime is libmizulive (Rust, behind a C ABI), linked statically: the
// HTTP and WebSocket server, sessions, templates, diffing, pub/sub and timers all
// live there. This package brings its pages home to Go as a typed Page[T]:
//
//	type CounterState struct {
//		Count int      `json:"count"`
//		Log   []string `json:"log"`
//	}
//
//	type CounterPage struct{}
//
//	func (p *CounterPage) Mount(ctx *live.Ctx, s *live.Session[CounterState]) error {
//		s.State = CounterState{Log: []string{}}
//		return nil
//	}
//
//	// View names the templates: views/pages/counter/index.html, and the
//	// partials re-rendered into the elements id="stats" and id="log".
//	func (p *CounterPage) View() live.View {
//		return live.View{Page: "counter/index",
//			Regions: map[string]string{"stats": "counter/stats", "log": "counter/log"}}
//	}
//
//	func (p *CounterPage) Handle(ctx *live.Ctx, s *live.Session[CounterState], e live.Event) error {
//		by, err := e.Int("by")
//		if err != nil {
//			return err
//		}
//		switch e.Name {
//		case "inc":
//			s.State.Count += by
//		case "dec":
//			s.State.Count -= by
//		}
//		s.Mark("stats")
//		return nil
//	}
//
//	func (p *CounterPage) Info(ctx *live.Ctx, s *live.Session[CounterState], msg live.Message) error {
//		return nil
//	}
//
//	func main() {
//		lv, err := live.New(live.Options{Views: "views", Dev: true})
//		if err != nil {
//			log.Fatal(err)
//		}
//		if err := live.Register(lv, "/counter", &CounterPage{}); err != nil {
//			log.Fatal(err)
//		}
//		log.Fatal(lv.Serve("")) // $MIZULIVE_ADDR, else 127.0.0.1:3000
//	}
//
// Templates are minijinja (Jinja2 syntax) in the views folder: the state is
// {{ state.count }}, a region is {{ partial("counter/stats") }}, and helpers
// write the event attributes: {{ lv.click("inc", by=1) }}. See docs/c-api.md.
// To ship the views inside the binary, embed them and pass Options.ViewsFS:
//
//	//go:embed views
//	var files embed.FS
//
//	views, _ := fs.Sub(files, "views")
//	lv, err := live.New(live.Options{ViewsFS: views})
//
// # State
//
// The library keeps each session's state as one JSON document. Before a callback
// it is decoded into Session.State (a T); after a callback that returns nil it is
// encoded with encoding/json and stored. Use json tags for the names templates
// see. A failing callback (an error or a panic) stores nothing: the session keeps
// the state it had, and the browser gets an error reply. When encoding/json gives
// every value of T back whole (exported fields of plain types; no interfaces, no
// custom marshalers), the session keeps State decoded from one callback to the
// next instead, which a callback cannot tell apart: do not keep references into
// State after the callback returns.
//
// # Threads
//
// Callbacks run on the library's threads, one at a time per session and in
// order; different sessions run in parallel. Keep callbacks short: a blocked
// callback holds up its session and one of the library's host threads. Ctx and
// Session are valid during their callback only: a kept Ctx refuses every method
// with ErrState. App methods, Publish included, are safe from any goroutine.
//
// # Testing
//
// Package livetest makes a recording Ctx, so a test calls one callback directly,
// with no server, and checks the state and what the callback asked for:
//
//	ctx := livetest.NewCtx(nil)
//	s := livetest.NewSession(ctx, CounterState{})
//	err := page.Handle(ctx, s, live.Event{Name: "inc", Values: map[string]string{"by": "1"}})
//	// s.State.Count, livetest.Marks(s), livetest.Recorded(ctx).Published ...
//
// # Logs
//
// The library's own records (a server listening, a callback that failed) go to
// slog.Default(), levels mapped, with the library module as "target" and the
// session id and route as "session" and "route" when the record names them.
// SetLogger names another logger; Options.Logger receives what this package
// reports for one app (recovered panics, with their stack).
//
// # Serving
//
// App.Serve and App.Start run the library's own server. Or serve the pages from
// the program's own web server, in process, with no port of the library's:
// PageHandler registers a page and returns its http.Handler, Handler serves the
// whole app, and Mount puts /_live/ (the runtime script and the WebSocket) and
// the pages registered with Register in a router:
//
//	counter, err := live.PageHandler(lv, "/counter", &CounterPage{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/counter", counter) // chi: r.Handle("/counter", counter)
//	lv.Mount(mux)                   // chi: lv.Mount(r)
//
// gin takes the same handlers through gin.WrapH:
//
//	r.Any("/counter", gin.WrapH(counter))
//	r.Any("/_live/*any", gin.WrapH(lv.Handler()))
//
// The router's middleware wraps every request, the WebSocket's included.
//
// # Building
//
// The package needs cgo; it finds libmizulive through pkg-config (the
// mizulive-static package, libmizulive.a) and links it statically, so binaries
// need no LD_LIBRARY_PATH. `make install` at the repository root installs the
// library and its .pc files (under /usr/local by default, which pkg-config
// searches); in a checkout, `cargo build --release` writes them to
// target/release/pkgconfig: set PKG_CONFIG_PATH to that folder.
package live
