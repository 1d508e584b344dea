package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// AuthFunc decides who may load a page. It gets the page request as an
// *http.Request (method, URL, headers and cookies; no body), so the session
// lookup an app already has for its net/http handlers works unchanged. It runs on
// a library thread for every page GET, no-JS form POST (r.Method "POST") and
// WebSocket join (asked as a GET of the page, with the upgrade's headers). The user
// id it picks travels in the signed session token; a POST or join for which it
// picks another user than the token's is refused. During the call, AuthBrowser,
// AuthSetBrowser and AuthDeleteBrowser reach the browser session of r.
type AuthFunc func(r *http.Request) AuthResult

// AuthResult is an AuthFunc's verdict: Allow, Deny or RedirectTo. The zero value
// allows an anonymous user.
type AuthResult struct {
	userID   string
	location string
	deny     bool
}

// Allow serves the page to userID ("" for anonymous). Callbacks see it as
// Session.UserID and templates as user_id.
func Allow(userID string) AuthResult { return AuthResult{userID: userID} }

// Deny refuses the page with 403.
func Deny() AuthResult { return AuthResult{deny: true} }

// RedirectTo answers with a 303 to location, e.g. a login page.
func RedirectTo(location string) AuthResult { return AuthResult{location: location} }

type authHook struct {
	app *App
	fn  AuthFunc
}

// wireRequest is the request JSON the library hands to the auth hook.
type wireRequest struct {
	Method  string                     `json:"method"`
	Path    string                     `json:"path"`
	Query   string                     `json:"query"`
	Headers map[string]json.RawMessage `json:"headers"`
	Cookies map[string]json.RawMessage `json:"cookies"`
}

func (h *authHook) run(req *C.lv_auth, text string) C.int {
	r, err := authRequest(text)
	if err != nil {
		h.app.logger.Error("mizulive: unreadable auth request; refusing it", "err", err)
		return C.LV_ERR_CALLBACK
	}
	r, end := withAuthReq(r, req)
	verdict := h.fn(r)
	end()
	switch {
	case verdict.deny:
		return C.LV_ERR_CALLBACK
	case verdict.location != "":
		cs := C.CString(stripNUL(verdict.location))
		defer freeC(cs)
		return C.lv_auth_redirect(req, cs)
	case verdict.userID != "":
		cs := C.CString(stripNUL(verdict.userID))
		defer freeC(cs)
		return C.lv_auth_set_user(req, cs)
	}
	return C.LV_OK
}

func authRequest(text string) (*http.Request, error) {
	var w wireRequest
	if err := json.Unmarshal([]byte(text), &w); err != nil {
		return nil, err
	}
	r := &http.Request{
		Method:     w.Method,
		URL:        &url.URL{Path: w.Path, RawQuery: w.Query},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(w.Headers)),
		Body:       http.NoBody,
		RequestURI: w.Path,
	}
	if w.Query != "" {
		r.RequestURI += "?" + w.Query
	}
	for name, raw := range w.Headers {
		var many []string
		if json.Unmarshal(raw, &many) == nil {
			for _, v := range many {
				r.Header.Add(name, v)
			}
		} else {
			r.Header.Add(name, jsonText(raw))
		}
	}
	r.Host = r.Header.Get("Host")
	if r.Header.Get("Cookie") == "" {
		for name, raw := range w.Cookies {
			r.AddCookie(&http.Cookie{Name: name, Value: jsonText(raw)})
		}
	}
	return r, nil
}
