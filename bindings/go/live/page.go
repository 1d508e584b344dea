package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
)

// Page is a live page with typed state T. One value serves every session of its
// route, and callbacks of different sessions run at the same time on different
// threads: keep per-session data in the Session's State, and guard anything
// shared in the page value yourself. Callbacks of one session run one at a time,
// in order.
//
// A callback that returns an error (or panics) fails: the browser gets an error
// reply (with the message in dev mode only) and the session keeps the state it
// had before. A panic is recovered and logged; the session lives on.
type Page[T any] interface {
	// Mount sets up a new session: the initial State, subscriptions, timers. It
	// runs once per session, on the first GET of the page (or when a browser
	// comes back after its session expired). An error answers the GET with 500.
	Mount(ctx *Ctx, s *Session[T]) error

	// View names the page's templates: the page template, its regions and the
	// layout. Register calls it once and hands the View to the library, which
	// renders those templates with the session's state on every change; vary the
	// markup with the state in the templates, not here.
	View() View

	// Handle handles a browser event: change State, then Mark the regions that
	// show what changed.
	Handle(ctx *Ctx, s *Session[T], e Event) error

	// Info handles a server-side message: a publish on a topic the session
	// subscribed to, or a timer set with Ctx.SendAfter (msg.Topic is "").
	Info(ctx *Ctx, s *Session[T], msg Message) error
}

// Terminator is implemented by pages that want to hear when a session ends.
// reason is "expired" (its browser did not come back within the grace period) or
// "shutdown" (without Redis; with it, a stopping node hands its sessions to the
// other nodes instead). State changes and marks are not rendered any more;
// publishing (a departure) works.
type Terminator[T any] interface {
	Terminate(ctx *Ctx, s *Session[T], reason string)
}

// View names a page's templates in the app's views folder.
type View struct {
	// Page is the page template: "counter/index" is views/pages/counter/index.html.
	Page string
	// Regions maps region DOM ids to partials: {"stats": "counter/stats"} is
	// views/partials/counter/stats.html, rendered into the element id="stats".
	Regions map[string]string
	// Layout is views/layouts/<Layout>.html; "" uses the app's default.
	Layout string
}

// Register registers page at route ("/counter", "/rooms/{room}"). Go methods
// cannot have type parameters, so this is a function rather than a method of App:
//
//	live.Register(lv, "/counter", &CounterPage{})
//
// It calls page.View once to learn the templates, which must exist and compile.
// Pages may be registered before or after Start.
func Register[T any](a *App, route string, page Page[T]) error {
	if page == nil {
		return &Error{Code: ErrNull, Message: "Register: page is nil"}
	}
	view, err := describe(page)
	if err != nil {
		return fmt.Errorf("live: %s: %w", route, err)
	}
	if view.Page == "" {
		return &Error{Code: ErrPage, Message: fmt.Sprintf("%s: %T.View() names no Page template", route, page)}
	}
	regions, err := json.Marshal(view.Regions)
	if err != nil {
		return err
	}
	if view.Regions == nil {
		regions = []byte("{}")
	}
	cRoute, err := cString("route", route)
	if err != nil {
		return err
	}
	defer freeC(cRoute)
	cPage, err := cString("page template", view.Page)
	if err != nil {
		return err
	}
	defer freeC(cPage)
	cRegions, err := cString("regions", string(regions))
	if err != nil {
		return err
	}
	defer freeC(cRegions)
	cLayout, err := cStringOrNil("layout", view.Layout)
	if err != nil {
		return err
	}
	defer freeC(cLayout)

	t := reflect.TypeFor[T]()
	b := &binding[T]{app: a, page: page, cached: cacheable(t), enc: encoderFor(t)}
	withClose := C.int(0)
	if t, ok := page.(Terminator[T]); ok {
		b.term = t
		withClose = 1
	}
	h := newHandle(b)
	err = a.with(func(p *C.lv_app) C.int {
		return C.lvgo_register_page(p, cRoute, cPage, cRegions, cLayout, withClose, C.uintptr_t(h))
	})
	if err != nil {
		// The library did not take the handle: it is still ours to release.
		deleteHandle(h)
		return err
	}
	a.addRoute(route)
	return nil
}

// describe calls View, turning a panic into an error.
func describe[T any](page Page[T]) (v View, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%T.View() panicked: %v", page, r)
		}
	}()
	return page.View(), nil
}

// callbacks is what the exported trampolines see of a registered page: the
// type-erased face of binding[T].
type callbacks interface {
	mount(c *C.lv_ctx) error
	event(c *C.lv_ctx, eventJSON string, kept uintptr) error
	info(c *C.lv_ctx, msgJSON string, kept uintptr) error
	terminate(c *C.lv_ctx, reason string, kept uintptr)
	logger() *slog.Logger
}

// binding connects one registered Page[T] to the library's callbacks. It lives in
// a handle that the library owns and drops after its last callback.
type binding[T any] struct {
	app  *App
	page Page[T]
	term Terminator[T]
	// cached: T survives a JSON round trip whole, so its sessions keep it decoded
	// between callbacks (stateCache).
	cached bool
	// enc writes T as JSON (encoderFor), looked up once.
	enc encodeFn
}

func (b *binding[T]) logger() *slog.Logger { return b.app.logger }

func (b *binding[T]) mount(c *C.lv_ctx) error {
	ctx := newCtx(b.app, c)
	defer ctx.end()
	s, _, err := newSession[T](ctx, false, false, 0)
	if err != nil {
		return err
	}
	if err := b.page.Mount(ctx, s); err != nil {
		return err
	}
	return s.commit(ctx, "", false, b.enc)
}

func (b *binding[T]) event(c *C.lv_ctx, eventJSON string, kept uintptr) error {
	ctx := newCtx(b.app, c)
	defer ctx.end()
	s, prev, err := newSession[T](ctx, true, b.cached, kept)
	if err != nil {
		return err
	}
	ev, err := decodeEvent(eventJSON)
	if err != nil {
		return err
	}
	if err := b.page.Handle(ctx, s, ev); err != nil {
		return err
	}
	return s.commit(ctx, prev, b.cached, b.enc)
}

func (b *binding[T]) info(c *C.lv_ctx, msgJSON string, kept uintptr) error {
	ctx := newCtx(b.app, c)
	defer ctx.end()
	s, prev, err := newSession[T](ctx, true, b.cached, kept)
	if err != nil {
		return err
	}
	msg := Message{Topic: goStringOrEmpty(C.lv_info_topic(c)), Data: json.RawMessage(msgJSON)}
	if err := b.page.Info(ctx, s, msg); err != nil {
		return err
	}
	return s.commit(ctx, prev, b.cached, b.enc)
}

func (b *binding[T]) terminate(c *C.lv_ctx, reason string, kept uintptr) {
	ctx := newCtx(b.app, c)
	defer ctx.end()
	s, _, err := newSession[T](ctx, true, b.cached, kept)
	if err != nil {
		b.app.logger.Warn("mizulive: Terminate skipped", "err", err)
		return
	}
	b.term.Terminate(ctx, s, reason)
}
