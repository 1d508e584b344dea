//go:build cgo

package live

/*
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"unsafe"
)

// websocketPath is where the client runtime opens its socket (DESIGN.md).
const websocketPath = "/_live/websocket"

// Handler returns an http.Handler that serves this app inside the Go program's
// own web server: every page, form posts, the runtime script, metrics and the
// WebSocket, all in process. The library opens no port of its own (Start is not
// needed), so whatever wraps the handler in your router (auth, logging, rate
// limits) sees every request. Mount it at the paths it serves, with no prefix
// stripping: Mount does that for http.ServeMux and chi, and for gin:
//
//	r.Any("/_live/*any", gin.WrapH(lv.Handler())) // runtime.js and the WebSocket
//
// A WebSocket's socket is handed to the library when the connection is a plain
// TCP one; over TLS that Go terminates (or any other net.Conn) the handler
// carries it frame by frame instead. A Go server that serves TLS itself sets
// Options.SecureCookies, so the library expects https:// origins.
func (a *App) Handler() http.Handler { return &handler{app: a} }

// PageHandler registers page at route, as Register does, and returns an
// http.Handler for it, to mount at that same route in your router:
//
//	counter, err := live.PageHandler(lv, "/counter", &CounterPage{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/counter", counter)
//	lv.Mount(mux) // the runtime script and the WebSocket under /_live/
//
// The page still needs /_live/ mounted (Mount, or Handler at /_live/) to go live.
// It returns the error Register would (a bad route, a missing template), and no
// handler then: registration reads templates from disk, a failure a program
// reports rather than a bug to panic on. Mount leaves the routes of
// PageHandler pages to you.
func PageHandler[T any](a *App, route string, page Page[T]) (http.Handler, error) {
	if err := Register(a, route, page); err != nil {
		return nil, err
	}
	a.routesMu.Lock()
	if a.byHand == nil {
		a.byHand = map[string]bool{}
	}
	a.byHand[route] = true
	a.routesMu.Unlock()
	return &handler{app: a, route: route}, nil
}

// handler serves a whole app (route "") or one page of it.
type handler struct {
	app   *App
	route string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.app
	if r.TLS != nil && !a.https {
		a.tlsWarning.Do(func() {
			a.logger.Warn("mizulive: the Go server serves TLS but Options.SecureCookies is off: " +
				"the library expects http:// origins and refuses the page's own WebSocket; set SecureCookies")
		})
	}
	if r.URL.Path == websocketPath && isUpgrade(r) {
		a.serveWebSocket(w, r)
		return
	}
	status := a.serveHTTP(w, r)
	if status == http.StatusNotFound && h.route != "" {
		a.logger.Warn("mizulive: a page's handler got a request for a path no page serves: "+
			"mount it at its own route", "route", h.route, "path", r.URL.Path)
	}
}

// Router is what Mount needs of a router: http.ServeMux and chi have it.
type Router interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers Handler in r for the /_live/ paths (the runtime script, the
// WebSocket, metrics) and for every page registered with Register so far (pages
// from PageHandler are yours to mount, and those registered later are not
// mounted: register them first). One call per router:
//
//	lv.Mount(mux)                                  // net/http's ServeMux
//	lv.Mount(r)                                    // chi (a chi.Router)
//	r.Any("/_live/*any", gin.WrapH(lv.Handler()))  // gin, plus each page's route
//
// The patterns follow the router: for a ServeMux (and any router without a
// Mount method) "/_live/", "/" as "/{$}" and a catch-all "{*rest}" as
// "{rest...}"; for a router with Mount(pattern, handler), which is chi's
// syntax, "/_live/*" and "{*rest}" as "*". Middleware the router applies to its
// routes (r.Use in chi) wraps these requests too. Mount at the router's root:
// the library routes by the request's full path.
func (a *App) Mount(r Router) {
	h := a.Handler()
	pattern := muxPattern
	live := "/_live/"
	if _, chi := r.(interface{ Mount(string, http.Handler) }); chi {
		pattern = chiPattern
		live = "/_live/*"
	}
	r.Handle(live, h)
	a.routesMu.Lock()
	var routes []string
	for _, route := range a.routes {
		if !a.byHand[route] {
			routes = append(routes, route)
		}
	}
	a.routesMu.Unlock()
	for _, route := range routes {
		r.Handle(pattern(route), h)
	}
}

// muxPattern turns a library route into a ServeMux pattern: a trailing slash would
// match a whole subtree there, and a catch-all "{*rest}" is written "{rest...}".
func muxPattern(route string) string {
	if i := strings.Index(route, "{*"); i >= 0 && strings.HasSuffix(route, "}") {
		return route[:i] + "{" + route[i+2:len(route)-1] + "...}"
	}
	if strings.HasSuffix(route, "/") {
		return route + "{$}"
	}
	return route
}

// chiPattern turns a library route into a chi pattern: "{room}" is chi's syntax
// already, and a catch-all is "*".
func chiPattern(route string) string {
	if i := strings.Index(route, "{*"); i >= 0 && strings.HasSuffix(route, "}") {
		return route[:i] + "*"
	}
	return route
}

// isUpgrade tells a WebSocket upgrade request.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, token := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "websocket") {
				return true
			}
		}
	}
	return false
}

// head is a request as the library takes it: NUL-terminated method and target,
// and the header lines, Host first (net/http moves it out of r.Header).
type head struct {
	method, target, headers []byte
}

func requestHead(r *http.Request) head {
	var b bytes.Buffer
	if r.Host != "" {
		b.WriteString("Host: ")
		b.WriteString(r.Host)
		b.WriteString("\r\n")
	}
	for name, values := range r.Header {
		if name == "Host" {
			continue
		}
		for _, v := range values {
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	return head{
		method:  nulTerminated([]byte(r.Method)),
		target:  nulTerminated([]byte(r.URL.RequestURI())),
		headers: b.Bytes(),
	}
}

func (h *head) cMethod() *C.char { return bytesPtr(h.method) }
func (h *head) cTarget() *C.char { return bytesPtr(h.target) }

// cHeaders is the header block for C; nil (with length 0) when empty.
func (h *head) cHeaders() (*C.char, C.size_t) {
	if len(h.headers) == 0 {
		return nil, 0
	}
	return bytesPtr(h.headers), C.size_t(len(h.headers))
}

func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// serveHTTP answers a request through lv_http and returns the status sent.
func (a *App) serveHTTP(w http.ResponseWriter, r *http.Request) int {
	// One byte past the limit is enough for the library to answer 413.
	body, err := io.ReadAll(io.LimitReader(r.Body, a.maxForm+1))
	if err != nil {
		a.logger.Warn("mizulive: reading a request body failed", "path", r.URL.Path, "err", err)
		http.Error(w, "400 the request body could not be read", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	h := requestHead(r)
	hdr, hdrLen := h.cHeaders()
	bodyPtr, bodyLen := bytesArg(body)
	var resp *C.lv_response
	err = a.with(func(p *C.lv_app) C.int {
		return C.lvgo_http(p, h.cMethod(), h.cTarget(), hdr, hdrLen, bodyPtr, bodyLen, &resp)
	})
	runtime.KeepAlive(&h)
	runtime.KeepAlive(body)
	if err != nil {
		return a.failed(w, r, err)
	}
	defer C.lv_response_free(resp)
	status := int(C.lv_response_status(resp))
	copyHeaders(w.Header(), resp)
	w.WriteHeader(status)
	var n C.size_t
	if p := C.lv_response_body(resp, &n); p != nil && n > 0 {
		// The response owns the bytes until lv_response_free; Write does not keep them.
		_, _ = w.Write(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	}
	return status
}

// failed answers a request the library refused to take, naming why.
func (a *App) failed(w http.ResponseWriter, r *http.Request, err error) int {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrState):
		status = http.StatusServiceUnavailable
	}
	a.logger.Error("mizulive: the live handler cannot serve a request", "path", r.URL.Path, "err", err)
	http.Error(w, fmt.Sprintf("%d %v", status, err), status)
	return status
}

// copyHeaders adds a response's header lines to h. Transfer-Encoding is the Go
// server's to choose.
func copyHeaders(h http.Header, resp *C.lv_response) {
	var n C.size_t
	p := C.lv_response_headers(resp, &n)
	if p == nil || n == 0 {
		return
	}
	for _, line := range strings.Split(C.GoStringN(p, C.int(n)), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.EqualFold(name, "Transfer-Encoding") {
			continue
		}
		h.Add(name, strings.TrimSpace(value))
	}
}
