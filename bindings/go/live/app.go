package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an App. Zero values take the library's defaults (see
// docs/c-api.md for each one).
type Options struct {
	// Views is the folder with layouts/, pages/ and partials/ (default "views"),
	// read at run time; Dev reloads it when a file changes.
	Views string
	// ViewsFS, when set, holds the views instead of a folder: its layouts/, pages/
	// and partials/ are read once, by New, and handed to the library, so the program
	// needs no views folder where it runs. With //go:embed views, pass
	// fs.Sub(files, "views"). Set Views or ViewsFS, not both.
	ViewsFS fs.FS
	// Dev shows detailed errors in the browser and reloads templates on change.
	Dev bool
	// Secret signs session tokens; at least 32 bytes. Set it in production: the
	// default is random per process, so tokens do not survive a restart.
	Secret string
	// Redis is the redis:// URL of the Redis the nodes of a cluster share. Empty
	// means $MIZULIVE_REDIS, and without it a single node. Likewise an empty Secret
	// means $MIZULIVE_SECRET.
	Redis string

	// HostThreads is how many library threads run page callbacks (default 4).
	HostThreads int
	// KeepGOMAXPROCS leaves GOMAXPROCS as it is. Otherwise the first New of the
	// process raises it by one, unless the GOMAXPROCS environment variable is set.
	// A library thread keeps a Go processor between its callbacks (as Go sees any
	// thread that called in from C), and Go leaves it there only while another
	// processor is idle: without a spare one, Go takes the processor back after
	// every callback, at a cost of two context switches per event, and the
	// program's goroutines wait for it until it does. (Like any call of
	// runtime.GOMAXPROCS, the raise stops Go 1.25 and later from following changes
	// of a container's CPU limit.)
	KeepGOMAXPROCS bool
	// IOThreads is how many threads serve sockets and timers (default 2, or 1 where
	// the process may use one core only).
	IOThreads int
	// Grace is how long a session without a socket waits for its browser (60s).
	Grace time.Duration
	// TokenTTL is how long a page's session token is valid (12h).
	TokenTTL time.Duration
	// MaxFrameBytes bounds a WebSocket frame (64 KiB); MaxFormBytes a form post (1 MiB).
	MaxFrameBytes, MaxFormBytes int
	// EventsPerSecond and EventBurst limit each session's events (50 and 100).
	EventsPerSecond, EventBurst int
	// OutboundQueue is how many frames a socket may have queued before a client
	// that does not read is dropped (256).
	OutboundQueue int
	// Mailbox is how many messages a session may have queued (1024).
	Mailbox int
	// ResumeBuffer is how many patches a session keeps for a reconnecting client (64).
	ResumeBuffer int
	// MaxSessions bounds the sessions alive at once; beyond it pages answer 503
	// (100000).
	MaxSessions int
	// AllowedOrigins may open the WebSocket besides the page's own origin.
	AllowedOrigins []string
	// Layout is the layout of pages whose View names none ("default").
	Layout string
	// RootID is the id of the live root; marking it re-renders the body ("lv-root").
	RootID string
	// Metrics serves Prometheus counters at /_live/metrics.
	Metrics bool
	// ShutdownTimeout bounds how long Close waits for callbacks in flight (20s).
	// Past it, Close returns ErrTimeout and those callbacks finish on their own.
	ShutdownTimeout time.Duration

	// PreviousSecrets still verify tokens for PreviousSecretsTTL (default TokenTTL)
	// after a secret rotation.
	PreviousSecrets    []string
	PreviousSecretsTTL time.Duration
	// SecureCookies says the site is served over HTTPS only (cookies get Secure and
	// the __Host- prefix; origins must be https://). TrustForwardedProto takes the
	// scheme from X-Forwarded-Proto instead: only behind a proxy that sets it.
	SecureCookies, TrustForwardedProto bool
	// RedirectHosts are the other hosts Redirect may send a browser to.
	RedirectHosts []string
	// CSP replaces the Content-Security-Policy pages are sent with; CSPExtra adds
	// directives to it (docs/c-api.md). Empty keeps the default.
	CSP, CSPExtra string
	// ResumeBufferBytes caps the patches kept for a reconnecting client in bytes
	// (256 KiB); MaxStateBytes the JSON size of a page's state (1 MiB).
	ResumeBufferBytes, MaxStateBytes int
	// MaxUnjoinedSessions bounds sessions whose browser has not joined yet (10000);
	// MaxConnections open connections (25000); HostQueue the new visitors' work
	// waiting for a host thread (1024).
	MaxUnjoinedSessions, MaxConnections, HostQueue int
	// HeaderTimeout (30s), BodyTimeout (30s), KeepAliveTimeout (75s) and
	// JoinTimeout (10s) bound how long a client may take at each step;
	// SocketIdleTimeout (75s) how long a joined WebSocket may stay silent (keep it
	// above twice the browser runtime's 30s heartbeat).
	HeaderTimeout, BodyTimeout, KeepAliveTimeout, JoinTimeout, SocketIdleTimeout time.Duration
	// ControlFramesPerSecond and ControlFrameBurst limit heartbeats and refused
	// frames per socket (2 and 20).
	ControlFramesPerSecond, ControlFrameBurst int
	// MaxBrowserSessionBytes bounds the browser session as compact JSON (4096): a
	// write beyond it fails with ErrState. BrowserSessionTTL is how long after its
	// browser last used it a browser session is kept (7 days).
	MaxBrowserSessionBytes int
	BrowserSessionTTL      time.Duration

	// Auth, when set, decides who may load each page.
	Auth AuthFunc
	// Logger receives what this package reports for this app (recovered panics,
	// requests the in-process handler could not serve); nil means slog.Default().
	// The library's own records go to slog.Default() too, process-wide, unless
	// SetLogger names another logger.
	Logger *slog.Logger
}

func (o Options) json() ([]byte, error) {
	m := map[string]any{}
	put := func(key string, v any, set bool) {
		if set {
			m[key] = v
		}
	}
	put("views", o.Views, o.Views != "")
	if o.ViewsFS != nil {
		if o.Views != "" {
			return nil, &Error{Code: ErrConfig, Message: "set Views (a folder) or ViewsFS, not both"}
		}
		views, err := readViews(o.ViewsFS)
		if err != nil {
			return nil, err
		}
		put("views", views, true)
	}
	put("dev", o.Dev, o.Dev)
	put("secret", o.Secret, o.Secret != "")
	put("redis", o.Redis, o.Redis != "")
	put("host_threads", o.HostThreads, o.HostThreads != 0)
	put("io_threads", o.IOThreads, o.IOThreads != 0)
	put("grace_ms", o.Grace.Milliseconds(), o.Grace != 0)
	put("token_ttl_s", int64(o.TokenTTL/time.Second), o.TokenTTL != 0)
	put("max_frame_bytes", o.MaxFrameBytes, o.MaxFrameBytes != 0)
	put("max_form_bytes", o.MaxFormBytes, o.MaxFormBytes != 0)
	put("events_per_second", o.EventsPerSecond, o.EventsPerSecond != 0)
	put("event_burst", o.EventBurst, o.EventBurst != 0)
	put("outbound_queue", o.OutboundQueue, o.OutboundQueue != 0)
	put("mailbox", o.Mailbox, o.Mailbox != 0)
	put("resume_buffer", o.ResumeBuffer, o.ResumeBuffer != 0)
	put("max_sessions", o.MaxSessions, o.MaxSessions != 0)
	put("allowed_origins", o.AllowedOrigins, len(o.AllowedOrigins) > 0)
	put("layout", o.Layout, o.Layout != "")
	put("root_id", o.RootID, o.RootID != "")
	put("metrics", o.Metrics, o.Metrics)
	put("shutdown_timeout_ms", o.ShutdownTimeout.Milliseconds(), o.ShutdownTimeout != 0)
	put("previous_secrets", o.PreviousSecrets, len(o.PreviousSecrets) > 0)
	put("previous_secrets_ttl_s", int64(o.PreviousSecretsTTL/time.Second), o.PreviousSecretsTTL != 0)
	put("secure_cookies", o.SecureCookies, o.SecureCookies)
	put("trust_forwarded_proto", o.TrustForwardedProto, o.TrustForwardedProto)
	put("redirect_hosts", o.RedirectHosts, len(o.RedirectHosts) > 0)
	put("csp", o.CSP, o.CSP != "")
	put("csp_extra", o.CSPExtra, o.CSPExtra != "")
	put("resume_buffer_bytes", o.ResumeBufferBytes, o.ResumeBufferBytes != 0)
	put("max_state_bytes", o.MaxStateBytes, o.MaxStateBytes != 0)
	put("max_unjoined_sessions", o.MaxUnjoinedSessions, o.MaxUnjoinedSessions != 0)
	put("max_connections", o.MaxConnections, o.MaxConnections != 0)
	put("host_queue", o.HostQueue, o.HostQueue != 0)
	put("header_timeout_ms", o.HeaderTimeout.Milliseconds(), o.HeaderTimeout != 0)
	put("body_timeout_ms", o.BodyTimeout.Milliseconds(), o.BodyTimeout != 0)
	put("keep_alive_timeout_ms", o.KeepAliveTimeout.Milliseconds(), o.KeepAliveTimeout != 0)
	put("join_timeout_ms", o.JoinTimeout.Milliseconds(), o.JoinTimeout != 0)
	put("socket_idle_timeout_ms", o.SocketIdleTimeout.Milliseconds(), o.SocketIdleTimeout != 0)
	put("control_frames_per_second", o.ControlFramesPerSecond, o.ControlFramesPerSecond != 0)
	put("control_frame_burst", o.ControlFrameBurst, o.ControlFrameBurst != 0)
	put("max_browser_session_bytes", o.MaxBrowserSessionBytes, o.MaxBrowserSessionBytes != 0)
	put("browser_session_ttl_s", int64(o.BrowserSessionTTL/time.Second), o.BrowserSessionTTL != 0)
	return json.Marshal(m)
}

// App is a mizulive application: its pages and, once started, its server. Create
// it with New, register pages with Register, then Serve (or Start, or mount
// Handler in your own router, which opens no port of the library's), and Close
// it when done. Its methods are safe
// from any goroutine.
//
// A started App is a running server, and only Close stops it: an App never
// closed keeps serving until the process ends, reachable or not. After Close,
// the library's memory is freed once the App is unreachable.
type App struct {
	// ptr stays valid for the App's whole life: Close shuts the app down, and the
	// handle is freed by a finalizer once no goroutine can reach the App (so none
	// can be about to call in). Calls in flight hold their own reference inside the
	// library, so they need no lock here.
	ptr    *C.lv_app
	logger *slog.Logger
	done   chan struct{}
	closed atomic.Bool
	// closing serializes Close, so done is closed and the finalizer set once.
	closing sync.Mutex

	routesMu sync.Mutex
	routes   []string
	// byHand are the routes PageHandler returned a handler for: the user mounts
	// those, so Mount leaves them out.
	byHand map[string]bool

	// What the in-process handler needs of the options (handler.go).
	maxForm, maxFrame int64
	https             bool
	tlsWarning        sync.Once
	// The WebSockets carried frame by frame (carry.go).
	carried carriedSockets
}

// spareProcessor raises GOMAXPROCS once per process (Options.KeepGOMAXPROCS).
var spareProcessor sync.Once

// New creates an app. It fails on unusable options (a short secret, a missing
// views folder, an unknown layout, a ViewsFS without views).
func New(opts Options) (*App, error) {
	if err := checkABI(); err != nil {
		return nil, err
	}
	defaultLogs()
	if !opts.KeepGOMAXPROCS {
		spareProcessor.Do(func() {
			if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
			}
		})
	}
	text, err := opts.json()
	if err != nil {
		return nil, err
	}
	cOpts, err := cString("options", string(text))
	if err != nil {
		return nil, err
	}
	defer freeC(cOpts)
	var ptr *C.lv_app
	err = callC(func() C.int {
		if ptr = C.lv_app_new(cOpts); ptr == nil {
			return C.LV_ERR_CONFIG
		}
		return C.LV_OK
	})
	if err != nil {
		return nil, err
	}
	a := &App{ptr: ptr, logger: opts.Logger, done: make(chan struct{}),
		maxForm: 1 << 20, maxFrame: 64 << 10, https: opts.SecureCookies || opts.TrustForwardedProto}
	if opts.MaxFormBytes > 0 {
		a.maxForm = int64(opts.MaxFormBytes)
	}
	if opts.MaxFrameBytes > 0 {
		a.maxFrame = int64(opts.MaxFrameBytes)
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if opts.Auth != nil {
		if err := a.SetAuth(opts.Auth); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// with runs one C call on the app, unless it is closed.
func (a *App) with(f func(*C.lv_app) C.int) error {
	if a == nil {
		return errState("no app (a Ctx outside a callback has none)")
	}
	if a.closed.Load() {
		return errState("the app is closed")
	}
	p := a.ptr
	err := callC(func() C.int { return f(p) })
	// The finalizer that frees p must not run while the call uses it.
	runtime.KeepAlive(a)
	return err
}

// SetAuth installs the auth hook (nil removes it); see AuthFunc.
func (a *App) SetAuth(fn AuthFunc) error {
	if fn == nil {
		return a.with(func(p *C.lv_app) C.int { return C.lv_app_set_auth(p, nil, nil, nil) })
	}
	h := newHandle(&authHook{app: a, fn: fn})
	err := a.with(func(p *C.lv_app) C.int { return C.lvgo_set_auth(p, C.uintptr_t(h)) })
	if err != nil {
		deleteHandle(h)
	}
	return err
}

// Start binds addr ("127.0.0.1:3000"; port 0 picks a free one; "" uses
// $MIZULIVE_ADDR, else 127.0.0.1:3000) and serves in the background. Addr tells
// the address bound.
func (a *App) Start(addr string) error {
	cAddr, err := cStringOrNil("addr", addr)
	if err != nil {
		return err
	}
	defer freeC(cAddr)
	return a.with(func(p *C.lv_app) C.int { return C.lv_app_start(p, cAddr) })
}

// Serve is Start followed by Wait: it serves until Close is called.
func (a *App) Serve(addr string) error {
	if err := a.Start(addr); err != nil {
		return err
	}
	a.Wait()
	return nil
}

// Wait blocks until the app is closed.
func (a *App) Wait() { <-a.done }

// Addr returns the address the server is bound to ("127.0.0.1:41234"). It fails
// with ErrState before Start.
func (a *App) Addr() (string, error) {
	var buf [128]C.char
	err := a.with(func(p *C.lv_app) C.int { return C.lv_app_local_addr(p, &buf[0], C.size_t(len(buf))) })
	if err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// Publish encodes v as JSON and publishes it on topic: every session subscribed
// to it gets it through its page's Info, in publish order. Safe from any
// goroutine, callbacks included; it never blocks on sessions. A json.RawMessage
// is sent as it is.
func (a *App) Publish(topic string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("live: encoding a message for %q: %w", topic, err)
	}
	cTopic, err := cString("topic", topic)
	if err != nil {
		return err
	}
	defer freeC(cTopic)
	buf := nulTerminated(data)
	err = a.with(func(p *C.lv_app) C.int { return C.lv_app_publish(p, cTopic, bytesPtr(buf)) })
	runtime.KeepAlive(buf)
	return err
}

// SessionCount returns the number of live sessions, with or without a socket.
func (a *App) SessionCount() int {
	n := 0
	_ = a.with(func(p *C.lv_app) C.int {
		n = int(C.lv_app_session_count(p))
		return C.LV_OK
	})
	return n
}

// Render renders a template of the views folder ("pages/counter/index.html")
// with data (encoded as JSON) as its context, without a session: for tests and
// tools.
func (a *App) Render(template string, data any) (string, error) {
	text, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	cName, err := cString("template", template)
	if err != nil {
		return "", err
	}
	defer freeC(cName)
	buf := nulTerminated(text)
	var out *C.char
	err = a.with(func(p *C.lv_app) C.int { return C.lv_app_render(p, cName, bytesPtr(buf), &out) })
	runtime.KeepAlive(buf)
	if err != nil {
		return "", err
	}
	defer C.lv_string_free(out)
	return C.GoString(out), nil
}

// Close shuts the server down gracefully (browsers are told to reconnect,
// in-flight callbacks finish, every session's Terminate runs with "shutdown") and
// frees the app. No callback starts after it returns. It is idempotent, and fails
// with ErrReentrant when called from inside a callback. Callbacks still running
// after Options.ShutdownTimeout are left to finish on their own: Close then
// returns ErrTimeout, and the app is closed all the same.
func (a *App) Close() error {
	if a.closed.Load() {
		return nil
	}
	// Callbacks still finishing during the shutdown may Publish: calls stay open
	// until it returns.
	// ErrTimeout still closes the app: the library stopped waiting for callbacks
	// past ShutdownTimeout, and they finish on their own.
	err := callC(func() C.int { return C.lv_app_shutdown(a.ptr) })
	if err != nil && !errors.Is(err, ErrTimeout) {
		return err
	}
	a.closing.Lock()
	defer a.closing.Unlock()
	if a.closed.Swap(true) {
		return err
	}
	close(a.done)
	// The shut-down handle only holds memory now; free it once the App is
	// unreachable, when no goroutine can be calling in.
	runtime.SetFinalizer(a, func(a *App) { C.lv_app_free(a.ptr) })
	return err
}

func (a *App) addRoute(route string) {
	a.routesMu.Lock()
	defer a.routesMu.Unlock()
	a.routes = append(a.routes, route)
}

// Routes returns the routes registered so far, in order.
func (a *App) Routes() []string {
	a.routesMu.Lock()
	defer a.routesMu.Unlock()
	return append([]string(nil), a.routes...)
}
