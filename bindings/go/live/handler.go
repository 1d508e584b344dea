//go:build cgo

package live

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// Handler returns an http.Handler that serves this app's pages, its runtime
// script and its WebSocket, so a Go program mounts live pages in its own
// net/http (or mizu, chi, ...) router, route by route:
//
//	mux.Handle("/counter", lv.Handler())
//	mux.Handle("/_live/", lv.Handler()) // runtime.js and the WebSocket
//
// (Mount does exactly that for a ServeMux.) The handler reverse-proxies to the
// library's own listener, WebSocket upgrades included; mount it at the same paths
// as the routes it serves (no prefix stripping). If the app was not started,
// Handler starts it on a private loopback port first. The Host header is passed
// through unchanged, so the WebSocket's Origin check sees the browser's origin.
// The handler sets X-Forwarded-Proto from the incoming request, so a Go server
// that serves TLS itself sets the option "trust_forwarded_proto": true, and the
// library then sees https (Secure cookies, https origins).
func (a *App) Handler() http.Handler {
	if _, err := a.reverseProxy(); err != nil {
		a.logger.Error("mizulive: the live handler cannot reach the app", "err", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp, err := a.reverseProxy()
		if err != nil {
			a.logger.Error("mizulive: the live handler cannot reach the app", "err", err)
			http.Error(w, "live pages are unavailable", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

// Router is what Mount needs of a router: http.ServeMux has it.
type Router interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers Handler in r for every page registered so far and for the
// /_live/ assets and WebSocket. Route params map to ServeMux wildcards
// ("/rooms/{room}" as it is; "/" as "/{$}", so it matches the root alone). Pages
// registered later are not mounted; register them first.
func (a *App) Mount(r Router) {
	h := a.Handler()
	r.Handle("/_live/", h)
	for _, route := range a.Routes() {
		r.Handle(muxPattern(route), h)
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

func (a *App) reverseProxy() (*httputil.ReverseProxy, error) {
	a.proxyMu.Lock()
	defer a.proxyMu.Unlock()
	if a.proxy != nil {
		return a.proxy, nil
	}
	addr, err := a.Addr()
	if err != nil {
		if err := a.Start("127.0.0.1:0"); err != nil {
			return nil, err
		}
		if addr, err = a.Addr(); err != nil {
			return nil, err
		}
	}
	target := &url.URL{Scheme: "http", Host: dialable(addr)}
	a.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// SetURL points Host at the target; the library checks the WebSocket
			// Origin against Host, so it must stay the browser's.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.logger.Warn("mizulive: proxying to the app failed", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return a.proxy, nil
}

// dialable turns a bound address into one to connect to: a server bound to all
// interfaces is reached on loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}
