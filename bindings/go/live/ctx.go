package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live/internal/record"
)

// Ctx is a callback's handle on its session's server side: subscriptions, timers,
// navigation and the route params. It is valid only during the callback it was
// passed to, and only on the callback's goroutine. A Ctx kept past its callback
// refuses everything: each method that returns an error returns one matching
// ErrState (Publish included), and SessionID, BrowserID, UserID, Params and Param
// answer empty. Only App still answers, so hand long work to a goroutine that
// reports back through the App (lv.Publish) when done.
//
// To unit-test a callback without a server, package livetest makes a recording
// Ctx: its methods record what they were asked instead of doing it.
type Ctx struct {
	app *App
	// rec, when set, makes this a recording Ctx (package livetest). It is set
	// when the Ctx is made and never changes, so it is read without mu.
	rec *record.Recorder
	// c and params behind mu: a goroutine that kept the Ctx past its callback
	// gets ErrState, not a data race.
	mu     sync.Mutex
	c      *C.lv_ctx
	params map[string]string
}

func newCtx(app *App, c *C.lv_ctx) *Ctx {
	return &Ctx{app: app, c: c}
}

func init() {
	record.NewCtx = func(r *record.Recorder) any { return &Ctx{rec: r} }
	record.Of = func(ctx any) *record.Recorder {
		if c, ok := ctx.(*Ctx); ok && c != nil {
			return c.rec
		}
		return nil
	}
	record.Session = func(s any) (marks []string, all bool, kinds, messages []string, ok bool) {
		v, ok := s.(interface {
			effects() ([]string, bool, []string, []string)
		})
		if !ok {
			return nil, false, nil, nil, false
		}
		marks, all, kinds, messages = v.effects()
		return marks, all, kinds, messages, true
	}
}

// recorder is the Ctx's recorder when it is a recording Ctx, else nil.
func (c *Ctx) recorder() *record.Recorder {
	if c == nil {
		return nil
	}
	return c.rec
}

// record runs f on the recorder under its lock and returns err, recording it when
// it is not nil.
func (c *Ctx) record(err error, f func(r *record.Recorder) error) error {
	r := c.rec
	r.Mu.Lock()
	defer r.Mu.Unlock()
	if err == nil && f != nil {
		err = f(r)
	}
	if err != nil {
		r.Errors = append(r.Errors, err)
	}
	return err
}

// checkNUL refuses what cString would: a NUL byte cuts a C string short.
func checkNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return &Error{Code: ErrUTF8, Message: fmt.Sprintf("%s %q contains a NUL byte", what, s)}
	}
	return nil
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

// withStr runs a ctx call that takes one string argument; a recording Ctx runs rec
// instead.
func (c *Ctx) withStr(what, s string, rec func(*record.Recorder, string), f func(*C.lv_ctx, *C.char) C.int) error {
	if c.recorder() != nil {
		return c.record(checkNUL(what, s), func(r *record.Recorder) error {
			if rec != nil {
				rec(r, s)
			}
			return nil
		})
	}
	p, err := c.ptr()
	if err != nil {
		return err
	}
	buf, err := borrowedCString(what, s)
	if err != nil {
		return err
	}
	err = callC(func() C.int { return f(p, bytesPtr(buf)) })
	runtime.KeepAlive(buf)
	return err
}

// App returns the app this callback runs in (nil for a recording Ctx). It is the
// one method that still answers after the callback: App.Publish is safe from any
// goroutine.
func (c *Ctx) App() *App { return c.app }

// SessionID returns the session id, or "" outside a callback.
func (c *Ctx) SessionID() string {
	if r := c.recorder(); r != nil {
		return r.SessionID
	}
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
	if r := c.recorder(); r != nil {
		return r.BrowserID
	}
	p, err := c.ptr()
	if err != nil {
		return ""
	}
	return goStringOrEmpty(C.lv_browser_id(p))
}

// UserID returns the user id the auth hook set, or "".
func (c *Ctx) UserID() string {
	if r := c.recorder(); r != nil {
		return r.UserID
	}
	p, err := c.ptr()
	if err != nil {
		return ""
	}
	return goStringOrEmpty(C.lv_user_id(p))
}

// Params returns the route params: {"room": "lobby"} for route "/rooms/{room}" at
// /rooms/lobby. Empty outside a callback.
func (c *Ctx) Params() map[string]string {
	if r := c.recorder(); r != nil {
		r.Mu.Lock()
		defer r.Mu.Unlock()
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		return r.Params
	}
	if c == nil {
		return map[string]string{}
	}
	c.mu.Lock()
	params, live := c.params, c.c != nil
	c.mu.Unlock()
	if !live {
		return map[string]string{}
	}
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
	return c.withStr("topic", topic, recSubscribe, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_subscribe(p, s) })
}

func recSubscribe(r *record.Recorder, topic string) {
	if !slices.Contains(r.Subscriptions, topic) {
		r.Subscriptions = append(r.Subscriptions, topic)
	}
}

func recUnsubscribe(r *record.Recorder, topic string) {
	r.Subscriptions = slices.DeleteFunc(r.Subscriptions, func(t string) bool { return t == topic })
}

// Unsubscribe ends a subscription (a no-op when there is none).
func (c *Ctx) Unsubscribe(topic string) error {
	return c.withStr("topic", topic, recUnsubscribe, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_unsubscribe(p, s) })
}

// Publish publishes v as JSON on a topic, as App.Publish. After the callback it
// fails with ErrState, as every method does: a goroutine publishes through the App.
func (c *Ctx) Publish(topic string, v any) error {
	if c.recorder() != nil {
		data, err := json.Marshal(v)
		if err != nil {
			err = fmt.Errorf("live: encoding a message for %q: %w", topic, err)
		} else {
			err = checkNUL("topic", topic)
		}
		return c.record(err, func(r *record.Recorder) error {
			r.Published = append(r.Published, record.Message{Topic: topic, Data: data})
			return nil
		})
	}
	if _, err := c.ptr(); err != nil {
		return err
	}
	return c.app.Publish(topic, v)
}

// SendAfter delivers msg (encoded as JSON) to this session's Info after d, as a
// Message whose Topic is "". Timers end with the session; CancelTimer stops one.
func (c *Ctx) SendAfter(d time.Duration, msg any) (TimerID, error) {
	if d < 0 {
		d = 0
	}
	if c.recorder() != nil {
		var id uint64
		data, err := json.Marshal(msg)
		if err != nil {
			err = fmt.Errorf("live: encoding a timer message: %w", err)
		}
		err = c.record(err, func(r *record.Recorder) error {
			r.LastTimer++
			id = r.LastTimer
			r.Timers = append(r.Timers, record.Timer{ID: id, After: d, Data: data})
			return nil
		})
		return TimerID(id), err
	}
	p, err := c.ptr()
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return 0, fmt.Errorf("live: encoding a timer message: %w", err)
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
	if c.recorder() != nil {
		return c.record(nil, func(r *record.Recorder) error {
			i := slices.IndexFunc(r.Timers, func(t record.Timer) bool { return t.ID == uint64(id) })
			if i < 0 {
				return &Error{Code: ErrNotFound, Message: fmt.Sprintf("no pending timer %d", id)}
			}
			r.Timers = slices.Delete(r.Timers, i, i+1)
			return nil
		})
	}
	p, err := c.ptr()
	if err != nil {
		return err
	}
	return callC(func() C.int { return C.lv_cancel_timer(p, C.uint64_t(id)) })
}

// Redirect loads url in the browser after the callback (a full page load; after
// a no-JavaScript form post, the 303 goes there).
func (c *Ctx) Redirect(url string) error {
	return c.withStr("url", url, func(r *record.Recorder, url string) { r.Redirect = url },
		func(p *C.lv_ctx, s *C.char) C.int { return C.lv_redirect(p, s) })
}

// Navigate moves the browser to another page of this app after the callback,
// without a full load (history.pushState, or replaceState when replace is true).
func (c *Ctx) Navigate(url string, replace bool) error {
	if c.recorder() != nil {
		return c.record(checkNUL("url", url), func(r *record.Recorder) error {
			r.Navigate, r.NavigateReplace = url, replace
			return nil
		})
	}
	r := C.int(0)
	if replace {
		r = 1
	}
	return c.withStr("url", url, nil, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_navigate(p, s, r) })
}

// SetTitle sets document.title (sent with the next patch, kept for later renders).
func (c *Ctx) SetTitle(title string) error {
	return c.withStr("title", title, func(r *record.Recorder, title string) { r.Title, r.TitleSet = title, true },
		func(p *C.lv_ctx, s *C.char) C.int { return C.lv_set_title(p, s) })
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
	return c.withStr("selector", selector, func(r *record.Recorder, sel string) { r.Focus = sel },
		func(p *C.lv_ctx, s *C.char) C.int { return C.lv_focus(p, s) })
}

// Scroll scrolls the element matching selector into view after the callback (its
// end when end is true); "" scrolls the page to the top.
func (c *Ctx) Scroll(selector string, end bool) error {
	if c.recorder() != nil {
		return c.record(checkNUL("selector", selector), func(r *record.Recorder) error {
			r.Scrolled, r.ScrollSelector, r.ScrollEnd = true, selector, end
			return nil
		})
	}
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
