package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Ctx is a callback's handle on its session's server side: subscriptions, timers,
// navigation and the route params. It is valid only during the callback it was
// passed to, and only on the callback's goroutine: after the callback returns
// every method fails with ErrState (hand long work to a goroutine that calls
// App.Publish when done instead).
type Ctx struct {
	app *App
	// c and params behind mu: a goroutine that kept the Ctx past its callback
	// gets ErrState, not a data race.
	mu     sync.Mutex
	c      *C.lv_ctx
	params map[string]string
}

func newCtx(app *App, c *C.lv_ctx) *Ctx {
	return &Ctx{app: app, c: c}
}

// TimerID names a pending timer for Ctx.CancelTimer. It is a plain number, so it
// can live in the session's state until a later callback cancels it.
type TimerID uint64

func (c *Ctx) ptr() (*C.lv_ctx, error) {
	if c != nil {
		if p := c.raw(); p != nil {
			return p, nil
		}
	}
	return nil, errState("Ctx used outside its callback")
}

// end makes the context unusable once its callback returns, so a kept *Ctx fails
// cleanly instead of passing a dangling pointer to the library.
func (c *Ctx) end() {
	c.mu.Lock()
	c.c = nil
	c.mu.Unlock()
}

// withStr runs a ctx call that takes one string argument.
func (c *Ctx) withStr(what, s string, f func(*C.lv_ctx, *C.char) C.int) error {
	p, err := c.ptr()
	if err != nil {
		return err
	}
	cs, err := cString(what, s)
	if err != nil {
		return err
	}
	defer freeC(cs)
	return callC(func() C.int { return f(p, cs) })
}

// App returns the app this callback runs in.
func (c *Ctx) App() *App { return c.app }

// SessionID returns the session id, or "" outside a callback.
func (c *Ctx) SessionID() string {
	p, err := c.ptr()
	if err != nil {
		return ""
	}
	return goStringOrEmpty(C.lv_session_id(p))
}

// BrowserID returns this browser's stable id: the same in every page session of
// the browser (its signed cookie), on every node; another browser's differs. A
// pseudonym of the cookie, fit to key "one vote per browser". "" outside a callback.
func (c *Ctx) BrowserID() string {
	p, err := c.ptr()
	if err != nil {
		return ""
	}
	return goStringOrEmpty(C.lv_browser_id(p))
}

// UserID returns the user id the auth hook set, or "".
func (c *Ctx) UserID() string {
	p, err := c.ptr()
	if err != nil {
		return ""
	}
	return goStringOrEmpty(C.lv_user_id(p))
}

// Params returns the route params: {"room": "lobby"} for route "/rooms/{room}" at
// /rooms/lobby. Empty outside a callback.
func (c *Ctx) Params() map[string]string {
	c.mu.Lock()
	params := c.params
	c.mu.Unlock()
	if params != nil {
		return params
	}
	params = map[string]string{}
	if p, err := c.ptr(); err == nil {
		if text := C.lv_params(p); text != nil {
			var raw map[string]json.RawMessage
			if json.Unmarshal([]byte(C.GoString(text)), &raw) == nil {
				for k, v := range raw {
					params[k] = jsonText(v)
				}
			}
		}
	}
	c.mu.Lock()
	c.params = params
	c.mu.Unlock()
	return params
}

// Param returns one route param, or "".
func (c *Ctx) Param(name string) string { return c.Params()[name] }

// Subscribe subscribes the session to a topic: what App.Publish sends there
// arrives through the page's Info. Subscriptions end with the session.
func (c *Ctx) Subscribe(topic string) error {
	return c.withStr("topic", topic, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_subscribe(p, s) })
}

// Unsubscribe ends a subscription (a no-op when there is none).
func (c *Ctx) Unsubscribe(topic string) error {
	return c.withStr("topic", topic, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_unsubscribe(p, s) })
}

// Publish publishes v as JSON on a topic, as App.Publish.
func (c *Ctx) Publish(topic string, v any) error { return c.app.Publish(topic, v) }

// SendAfter delivers msg (encoded as JSON) to this session's Info after d, as a
// Message whose Topic is "". Timers end with the session; CancelTimer stops one.
func (c *Ctx) SendAfter(d time.Duration, msg any) (TimerID, error) {
	p, err := c.ptr()
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return 0, fmt.Errorf("live: encoding a timer message: %w", err)
	}
	if d < 0 {
		d = 0
	}
	buf := nulTerminated(data)
	var id C.uint64_t
	err = callC(func() C.int { return C.lv_send_after(p, C.uint64_t(d.Milliseconds()), bytesPtr(buf), &id) })
	runtime.KeepAlive(buf)
	if err != nil {
		return 0, err
	}
	return TimerID(id), nil
}

// CancelTimer cancels a pending timer of this session. It fails with ErrNotFound
// when the timer already fired, was cancelled, or never was.
func (c *Ctx) CancelTimer(id TimerID) error {
	p, err := c.ptr()
	if err != nil {
		return err
	}
	return callC(func() C.int { return C.lv_cancel_timer(p, C.uint64_t(id)) })
}

// Redirect loads url in the browser after the callback (a full page load; after
// a no-JavaScript form post, the 303 goes there).
func (c *Ctx) Redirect(url string) error {
	return c.withStr("url", url, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_redirect(p, s) })
}

// Navigate moves the browser to another page of this app after the callback,
// without a full load (history.pushState, or replaceState when replace is true).
func (c *Ctx) Navigate(url string, replace bool) error {
	r := C.int(0)
	if replace {
		r = 1
	}
	return c.withStr("url", url, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_navigate(p, s, r) })
}

// SetTitle sets document.title (sent with the next patch, kept for later renders).
func (c *Ctx) SetTitle(title string) error {
	return c.withStr("title", title, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_set_title(p, s) })
}

// SetStatus, in Mount, sets the HTTP status the page GET answers with: the page
// renders as usual under it (a live "no such board" page with 404). When Mount then
// returns an error, the GET answers the status with a short text instead of a 500
// and no session is kept; returning ErrNotFound (or an error wrapping it) does that
// with 404. With Redirect in Mount, a 3xx status replaces the default 303. Codes
// 200 to 599; an ErrState error outside Mount.
func (c *Ctx) SetStatus(code int) error {
	p, err := c.ptr()
	if err != nil {
		return err
	}
	return callC(func() C.int { return C.lv_set_status(p, C.int(code)) })
}

// Focus focuses the element matching a CSS selector after the callback.
func (c *Ctx) Focus(selector string) error {
	return c.withStr("selector", selector, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_focus(p, s) })
}

// Scroll scrolls the element matching selector into view after the callback (its
// end when end is true); "" scrolls the page to the top.
func (c *Ctx) Scroll(selector string, end bool) error {
	p, err := c.ptr()
	if err != nil {
		return err
	}
	cs, err := cStringOrNil("selector", selector)
	if err != nil {
		return err
	}
	defer freeC(cs)
	e := C.int(0)
	if end {
		e = 1
	}
	return callC(func() C.int { return C.lv_scroll(p, cs, e) })
}

func (c *Ctx) flash(kind, message string) error {
	p, err := c.ptr()
	if err != nil {
		return err
	}
	ck, err := cString("flash kind", kind)
	if err != nil {
		return err
	}
	defer freeC(ck)
	cm, err := cString("flash message", message)
	if err != nil {
		return err
	}
	defer freeC(cm)
	return callC(func() C.int { return C.lv_flash(p, ck, cm) })
}

func (c *Ctx) mark(id string) error {
	return c.withStr("region id", id, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_mark(p, s) })
}

func goStringOrEmpty(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// raw is the library's context for the package's own calls during the callback.
func (c *Ctx) raw() *C.lv_ctx {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}
