package live

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live/internal/headless"
)

// testClient is one lv_test client, the face package livetest drives through
// internal/headless. Calls hold mu for reading, Close for writing, so the handle is
// never released under a call in flight.
type testClient struct {
	app *App // keeps the app (and its lv_app) alive as long as the client
	mu  sync.RWMutex
	ptr *C.lv_test
}

func init() {
	headless.Open = func(app any, path string, optionsJSON []byte) (headless.Client, error) {
		return openTestClient(app.(*App), path, optionsJSON)
	}
}

func openTestClient(a *App, path string, optionsJSON []byte) (*testClient, error) {
	cPath, err := cString("path", path)
	if err != nil {
		return nil, err
	}
	defer freeC(cPath)
	var opts *C.char
	if len(optionsJSON) > 0 {
		if opts, err = cString("options", string(optionsJSON)); err != nil {
			return nil, err
		}
		defer freeC(opts)
	}
	var ptr *C.lv_test
	if err := a.with(func(p *C.lv_app) C.int { return C.lv_test_open(p, cPath, opts, &ptr) }); err != nil {
		return nil, err
	}
	c := &testClient{app: a, ptr: ptr}
	// A client the test never closed is released before its App can be: the App's
	// own finalizer cannot run while this one holds it.
	runtime.SetFinalizer(c, func(c *testClient) { c.Close() })
	return c, nil
}

// call runs one lv_test call on the client, unless it is closed.
func (c *testClient) call(f func(*C.lv_test) C.int) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return errState("the test client is closed")
	}
	p := c.ptr
	err := callC(func() C.int { return f(p) })
	runtime.KeepAlive(c)
	return err
}

// text runs a call that hands out a string, and takes it.
func (c *testClient) text(f func(*C.lv_test, **C.char) C.int) (string, error) {
	var out *C.char
	err := c.call(func(p *C.lv_test) C.int { return f(p, &out) })
	if err != nil {
		return "", err
	}
	defer C.lv_string_free(out)
	return C.GoString(out), nil
}

// withString runs f with s as a C string.
func withString(what, s string, f func(*C.char) error) error {
	cs, err := cString(what, s)
	if err != nil {
		return err
	}
	defer freeC(cs)
	return f(cs)
}

func (c *testClient) selectorCall(sel string, f func(*C.lv_test, *C.char) C.int) error {
	return withString("selector", sel, func(cs *C.char) error {
		return c.call(func(p *C.lv_test) C.int { return f(p, cs) })
	})
}

func (c *testClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		C.lv_test_close(c.ptr)
		c.ptr = nil
		runtime.SetFinalizer(c, nil)
	}
}

func (c *testClient) Visit(path string) error {
	return withString("path", path, func(cs *C.char) error {
		return c.call(func(p *C.lv_test) C.int { return C.lv_test_visit(p, cs) })
	})
}

func (c *testClient) Click(sel string) error {
	return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_click(p, s) })
}

func (c *testClient) Focus(sel string) error {
	return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_focus(p, s) })
}

func (c *testClient) Blur(sel string) error {
	return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_blur(p, s) })
}

func (c *testClient) Submit(sel string, fieldsJSON []byte) error {
	var fields *C.char
	if len(fieldsJSON) > 0 {
		var err error
		if fields, err = cString("fields", string(fieldsJSON)); err != nil {
			return err
		}
		defer freeC(fields)
	}
	return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_submit(p, s, fields) })
}

func (c *testClient) Change(sel, value string) error {
	return withString("value", value, func(cv *C.char) error {
		return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_change(p, s, cv) })
	})
}

func (c *testClient) Key(sel, eventType, key string) error {
	return withString("event type", eventType, func(ct *C.char) error {
		return withString("key", key, func(ck *C.char) error {
			return c.selectorCall(sel, func(p *C.lv_test, s *C.char) C.int { return C.lv_test_key(p, s, ct, ck) })
		})
	})
}

func (c *testClient) Event(eventJSON []byte) error {
	return withString("event", string(eventJSON), func(ce *C.char) error {
		return c.call(func(p *C.lv_test) C.int { return C.lv_test_event(p, ce) })
	})
}

// millis clamps a duration to the library's uint32 milliseconds.
func millis(d time.Duration) C.uint32_t {
	ms := d.Milliseconds()
	switch {
	case ms < 0:
		return 0
	case ms > int64(^uint32(0)):
		return C.uint32_t(^uint32(0))
	}
	return C.uint32_t(ms)
}

func (c *testClient) NextPush(timeout time.Duration) (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_next_push(p, millis(timeout), out) })
}

func (c *testClient) RefutePush(within time.Duration) error {
	return c.call(func(p *C.lv_test) C.int { return C.lv_test_refute_push(p, millis(within)) })
}

func (c *testClient) HTML(sel string) (string, error) {
	cs, err := cStringOrNil("selector", sel)
	if err != nil {
		return "", err
	}
	defer freeC(cs)
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_html(p, cs, out) })
}

func (c *testClient) Text(sel string) (string, error) {
	cs, err := cString("selector", sel)
	if err != nil {
		return "", err
	}
	defer freeC(cs)
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_text(p, cs, out) })
}

func (c *testClient) Region(id string) (string, error) {
	cs, err := cString("region id", id)
	if err != nil {
		return "", err
	}
	defer freeC(cs)
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_region(p, cs, out) })
}

func (c *testClient) Title() (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_title(p, out) })
}

func (c *testClient) Path() (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_path(p, out) })
}

func (c *testClient) State() (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_state(p, out) })
}

func (c *testClient) Flash() (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_flash(p, out) })
}

func (c *testClient) Reply() (string, error) {
	return c.text(func(p *C.lv_test, out **C.char) C.int { return C.lv_test_reply(p, out) })
}
