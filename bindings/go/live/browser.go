package live

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"

	"github.com/mizulive/mizulive/bindings/go/live/internal/record"
)

// The browser session: a small JSON object shared by every page session of one
// browser (its signed lv_bid cookie), in every tab and on every node. Callbacks
// reach it through Ctx.Browser, Ctx.SetBrowser and Ctx.DeleteBrowser, the auth
// hook through AuthBrowser, AuthSetBrowser and AuthDeleteBrowser, and templates
// read it as browser ({{ browser.voter }}).

// Browser returns the browser session as it was when the callback started, with
// the callback's own writes: one JSON value per key, empty when the browser has
// none yet. Decode a value with json.Unmarshal.
func (c *Ctx) Browser() (map[string]json.RawMessage, error) {
	if c.recorder() != nil {
		m := map[string]json.RawMessage{}
		err := c.record(nil, func(r *record.Recorder) error {
			for k, v := range r.Browser {
				m[k] = v
			}
			return nil
		})
		return m, err
	}
	p, err := c.ptr()
	if err != nil {
		return nil, err
	}
	return browserMap(func() *C.char { return C.lv_browser_session(p) })
}

// SetBrowser sets key in the browser session to v encoded as JSON. The write is
// stored when the callback succeeds (a failing callback's writes are dropped, like
// its state) and every page session of this browser sees it from its next
// callback: the next page load, another tab, another node. A session that would be
// over Options.MaxBrowserSessionBytes as compact JSON fails with ErrState and
// changes nothing.
func (c *Ctx) SetBrowser(key string, v any) error {
	if c.recorder() != nil {
		data, err := json.Marshal(v)
		if err != nil {
			err = fmt.Errorf("live: encoding browser session key %q: %w", key, err)
		} else {
			err = checkNUL("browser session key", key)
		}
		return c.record(err, func(r *record.Recorder) error {
			if r.Browser == nil {
				r.Browser = map[string]json.RawMessage{}
			}
			r.Browser[key] = data
			return nil
		})
	}
	p, err := c.ptr()
	if err != nil {
		return err
	}
	return browserSet(key, v, func(k, j *C.char) C.int { return C.lv_browser_set(p, k, j) })
}

// DeleteBrowser removes key from the browser session, stored as SetBrowser's
// writes are. It fails with ErrNotFound when there is no such key.
func (c *Ctx) DeleteBrowser(key string) error {
	if c.recorder() != nil {
		return c.record(checkNUL("browser session key", key), func(r *record.Recorder) error {
			if _, ok := r.Browser[key]; !ok {
				return &Error{Code: ErrNotFound, Message: fmt.Sprintf("no browser session key %q", key)}
			}
			delete(r.Browser, key)
			return nil
		})
	}
	return c.withStr("browser session key", key, nil, func(p *C.lv_ctx, s *C.char) C.int { return C.lv_browser_remove(p, s) })
}

// authReq is the library's request handle, reachable from the *http.Request an
// AuthFunc gets while the hook runs.
type authReq struct {
	mu  sync.Mutex
	req *C.lv_auth
}

type authReqKey struct{}

func (a *authReq) end() {
	a.mu.Lock()
	a.req = nil
	a.mu.Unlock()
}

func authPtr(r *http.Request) (*C.lv_auth, error) {
	if r != nil {
		if a, ok := r.Context().Value(authReqKey{}).(*authReq); ok {
			a.mu.Lock()
			p := a.req
			a.mu.Unlock()
			if p != nil {
				return p, nil
			}
			return nil, errState("auth request used after its AuthFunc returned")
		}
	}
	return nil, errState("not a request an AuthFunc was given")
}

// AuthBrowser returns, inside an AuthFunc, the browser session of the request r it
// was given (empty when the browser has none), with the hook's own writes.
// Outside the hook it fails with ErrState.
func AuthBrowser(r *http.Request) (map[string]json.RawMessage, error) {
	p, err := authPtr(r)
	if err != nil {
		return nil, err
	}
	return browserMap(func() *C.char { return C.lv_auth_browser_session(p) })
}

// AuthSetBrowser sets, inside an AuthFunc, key in the browser session of r to v
// encoded as JSON, e.g. the user a login recognised. It is stored unless the hook
// denies the request, before the page mounts or the event runs. Over
// Options.MaxBrowserSessionBytes it fails with ErrState and changes nothing.
func AuthSetBrowser(r *http.Request, key string, v any) error {
	p, err := authPtr(r)
	if err != nil {
		return err
	}
	return browserSet(key, v, func(k, j *C.char) C.int { return C.lv_auth_browser_set(p, k, j) })
}

// AuthDeleteBrowser removes, inside an AuthFunc, key from the browser session of r
// (e.g. at logout), stored as AuthSetBrowser's writes are. It fails with
// ErrNotFound when there is no such key.
func AuthDeleteBrowser(r *http.Request, key string) error {
	p, err := authPtr(r)
	if err != nil {
		return err
	}
	ck, err := cString("browser session key", key)
	if err != nil {
		return err
	}
	defer freeC(ck)
	return callC(func() C.int { return C.lv_auth_browser_remove(p, ck) })
}

// withAuthReq hands the hook's handle to r's context for the AuthFuncs calls; the
// returned func ends it when the hook returns.
func withAuthReq(r *http.Request, req *C.lv_auth) (*http.Request, func()) {
	a := &authReq{req: req}
	return r.WithContext(context.WithValue(r.Context(), authReqKey{}, a)), a.end
}

// browserMap reads the browser session JSON on one thread, so a NULL's message is
// the call's own.
func browserMap(get func() *C.char) (map[string]json.RawMessage, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	text := get()
	if text == nil {
		return nil, lastError(C.LV_ERR_STATE)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(C.GoString(text)), &m); err != nil {
		return nil, fmt.Errorf("live: reading the browser session: %w", err)
	}
	return m, nil
}

func browserSet(key string, v any, set func(k, j *C.char) C.int) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("live: encoding browser session key %q: %w", key, err)
	}
	ck, err := cString("browser session key", key)
	if err != nil {
		return err
	}
	defer freeC(ck)
	buf := nulTerminated(data)
	err = callC(func() C.int { return set(ck, bytesPtr(buf)) })
	runtime.KeepAlive(buf)
	return err
}
