package livetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/live"
	"github.com/mizulive/mizulive/bindings/go/live/internal/headless"
)

// Page is a headless browser showing one page of an App, in-process: no port,
// no Start, no JavaScript. Open makes one. It loads the page as a browser does
// (the GET, then the live socket joined in memory), keeps the page's HTML as a
// document that patches change, and sends events the way the browser runtime
// builds them from the rendered element a CSS selector points at, so a typo in
// a template's event name fails the test.
//
// Each method X that can fail has two forms: X fails the test (t.Fatalf, with the
// library's message) and TryX returns the error, for a test that expects one.
// An event method waits for the event's reply. A failed reply is an *EventError;
// every other error is a *live.Error with the library's code (live.ErrNotFound for
// a selector that matches nothing or an element with no data-lv-<type> in reach,
// live.ErrRequest for a malformed or ambiguous selector, live.ErrTimeout,
// live.ErrState for a closed page).
//
// A Page may be used from any goroutine, one call at a time (a second call waits
// for the first), but never from inside a page callback: there the library
// refuses it with live.ErrReentrant, and the X form reports it with t.Errorf
// instead of t.Fatalf (a t.Fatalf on a library thread would abort the process).
type Page struct {
	t testing.TB
	c headless.Client
}

// OpenOption sets how Open loads the page.
type OpenOption struct{ apply func(*openOptions) }

type openOptions struct {
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Cookies   map[string]string `json:"cookies,omitempty"`
	Host      string            `json:"host,omitempty"`
}

// Cookie sends a cookie with every request of the page (the login cookie an
// auth hook reads).
func Cookie(name, value string) OpenOption {
	return OpenOption{func(o *openOptions) {
		if o.Cookies == nil {
			o.Cookies = map[string]string{}
		}
		o.Cookies[name] = value
	}}
}

// Header sends a header with every request of the page.
func Header(name, value string) OpenOption {
	return OpenOption{func(o *openOptions) {
		if o.Headers == nil {
			o.Headers = map[string]string{}
		}
		o.Headers[name] = value
	}}
}

// Timeout is how long an event waits for its reply (default 5s).
func Timeout(d time.Duration) OpenOption {
	return OpenOption{func(o *openOptions) {
		o.TimeoutMS = max(d.Milliseconds(), 1)
	}}
}

// Host is the host the browser asks for (default "localhost").
func Host(host string) OpenOption {
	return OpenOption{func(o *openOptions) { o.Host = host }}
}

// Open loads the page at path ("/counter", with a query if any) of lv and
// returns it; it is closed when the test ends (t.Cleanup). It fails the test,
// with the library's message, when the page does not open: an error status on
// the GET (a 404 for an unknown path, a 500 from a failing Mount), a page with no
// live root, a refused join.
func Open(t testing.TB, lv *live.App, path string, opts ...OpenOption) *Page {
	t.Helper()
	p, err := TryOpen(t, lv, path, opts...)
	if err != nil {
		t.Fatalf("livetest.Open(%q): %v", path, err)
	}
	return p
}

// TryOpen is Open returning the error instead of failing the test (a
// *live.Error: live.ErrNotFound for an error status, whose message has it).
func TryOpen(t testing.TB, lv *live.App, path string, opts ...OpenOption) (*Page, error) {
	if lv == nil {
		return nil, &live.Error{Code: live.ErrNull, Message: "livetest.Open: the App is nil"}
	}
	var o openOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	var text []byte
	if o.TimeoutMS != 0 || o.Headers != nil || o.Cookies != nil || o.Host != "" {
		var err error
		if text, err = json.Marshal(o); err != nil {
			return nil, err
		}
	}
	c, err := headless.Open(lv, path, text)
	if err != nil {
		return nil, explain(nil, "Open", err)
	}
	p := &Page{t: t, c: c}
	t.Cleanup(p.Close)
	return p, nil
}

// Close releases the page: its socket closes, as when a tab is closed. Later
// calls fail with live.ErrState. Open registers it with t.Cleanup; calling it
// earlier is fine.
func (p *Page) Close() { p.c.Close() }

// EventError is an event whose reply is an error: the page's callback returned
// an error or panicked (Code "host_error"), a render failed ("render_error"),
// the session is rate limited ("rate_limited"). Err is the library's error
// (live.ErrCallback), so errors.Is(err, live.ErrCallback) holds too.
type EventError struct {
	// Code is the reply's error code.
	Code string
	// Message is the reply's message: the callback's error text in dev mode
	// (live.Options.Dev); outside it, the library's generic message.
	Message string
	// Err is the library's error, with the event and its selector in its message.
	Err *live.Error
}

func (e *EventError) Error() string { return e.Err.Error() }

// Unwrap returns the library's error.
func (e *EventError) Unwrap() error { return e.Err }

// explain makes a library error a test can act on: a failed reply becomes an
// *EventError with the reply's code and message (read from c, the client that sent
// the event), a call from a callback says what to do instead.
func explain(c headless.Client, method string, err error) error {
	var le *live.Error
	if !errors.As(err, &le) {
		return err
	}
	switch le.Code {
	case live.ErrCallback:
		if c == nil || method == "Open" || method == "Visit" {
			return err
		}
		var reply struct {
			Error struct{ Code, Message string }
		}
		if text, rerr := c.Reply(); rerr == nil {
			_ = json.Unmarshal([]byte(text), &reply)
		}
		return &EventError{Code: reply.Error.Code, Message: reply.Error.Message, Err: le}
	case live.ErrReentrant:
		return &live.Error{Code: live.ErrReentrant, Message: fmt.Sprintf(
			"livetest: Page.%s was called from inside a page callback (Mount, Handle, Info, Terminate); "+
				"the test client waits for the app's sessions, which may need that callback's thread: "+
				"call it from the test's goroutine (%s)", method, le.Message)}
	}
	return err
}

// fail reports err for method on p's test: t.Fatalf, except for a call from a
// callback, where Fatalf would end a library thread's goroutine.
func (p *Page) fail(err error, format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...) + ": " + err.Error()
	if errors.Is(err, live.ErrReentrant) {
		p.t.Error(msg)
		return
	}
	p.t.Fatal(msg)
}

// Visit loads another page of the app in the same browser (cookies kept), as
// typing its URL would.
func (p *Page) Visit(path string) {
	p.t.Helper()
	if err := p.TryVisit(path); err != nil {
		p.fail(err, "livetest: Visit(%q)", path)
	}
}

// TryVisit is Visit returning the error.
func (p *Page) TryVisit(path string) error { return explain(p.c, "Visit", p.c.Visit(path)) }

// Click clicks the one element selector matches: the click of it or its nearest
// ancestor with data-lv-click, with its data-lv-value-* values.
func (p *Page) Click(selector string) {
	p.t.Helper()
	if err := p.TryClick(selector); err != nil {
		p.fail(err, "livetest: Click(%q)", selector)
	}
}

// TryClick is Click returning the error.
func (p *Page) TryClick(selector string) error { return explain(p.c, "Click", p.c.Click(selector)) }

// Focus moves focus into the element: its (or its nearest ancestor's)
// data-lv-focus event.
func (p *Page) Focus(selector string) {
	p.t.Helper()
	if err := p.TryFocus(selector); err != nil {
		p.fail(err, "livetest: Focus(%q)", selector)
	}
}

// TryFocus is Focus returning the error.
func (p *Page) TryFocus(selector string) error { return explain(p.c, "Focus", p.c.Focus(selector)) }

// Blur moves focus out of the element: its (or its nearest ancestor's)
// data-lv-blur event.
func (p *Page) Blur(selector string) {
	p.t.Helper()
	if err := p.TryBlur(selector); err != nil {
		p.fail(err, "livetest: Blur(%q)", selector)
	}
}

// TryBlur is Blur returning the error.
func (p *Page) TryBlur(selector string) error { return explain(p.c, "Blur", p.c.Blur(selector)) }

// Submit submits the form selector names (one with data-lv-submit, or a submit
// button in it, which is then the submitter), after filling fields as a user
// would: a field name to a string, a []string (checkboxes, a multiple select),
// true/false (every checkbox of the name) or nil. nil fields submits the form as
// it is. A field the form lacks, or a value no option or box has, fails with
// live.ErrNotFound.
func (p *Page) Submit(selector string, fields map[string]any) {
	p.t.Helper()
	if err := p.TrySubmit(selector, fields); err != nil {
		p.fail(err, "livetest: Submit(%q)", selector)
	}
}

// TrySubmit is Submit returning the error.
func (p *Page) TrySubmit(selector string, fields map[string]any) error {
	var text []byte
	if fields != nil {
		var err error
		if text, err = json.Marshal(fields); err != nil {
			return fmt.Errorf("livetest: Submit(%q): the fields do not encode: %w", selector, err)
		}
	}
	return explain(p.c, "Submit", p.c.Submit(selector, text))
}

// Change sets a form field as a user would and sends its (or its nearest
// ancestor's) data-lv-change: value is the text of a text field, the option to
// select, "true"/"false" (or the box's own value/"") for a checkbox or radio.
func (p *Page) Change(selector, value string) {
	p.t.Helper()
	if err := p.TryChange(selector, value); err != nil {
		p.fail(err, "livetest: Change(%q, %q)", selector, value)
	}
}

// TryChange is Change returning the error.
func (p *Page) TryChange(selector, value string) error {
	return explain(p.c, "Change", p.c.Change(selector, value))
}

// Key sends a key event: eventType "keydown" or "keyup", key as
// KeyboardEvent.key ("Enter", "a"). A key the element's data-lv-key filters out
// is not sent, as in a browser: live.ErrNotFound naming the filter.
func (p *Page) Key(selector, eventType, key string) {
	p.t.Helper()
	if err := p.TryKey(selector, eventType, key); err != nil {
		p.fail(err, "livetest: Key(%q, %q, %q)", selector, eventType, key)
	}
}

// TryKey is Key returning the error.
func (p *Page) TryKey(selector, eventType, key string) error {
	return explain(p.c, "Key", p.c.Key(selector, eventType, key))
}

// Event sends an event written by hand, with no element behind it: ev is a
// JSON object with at least "type" and "name" (and any of "target", "values",
// "form", "field", "key", "meta", as in docs/protocol.md), given as a string,
// []byte or json.RawMessage, or as any value that encodes to one (a map).
func (p *Page) Event(ev any) {
	p.t.Helper()
	if err := p.TryEvent(ev); err != nil {
		p.fail(err, "livetest: Event")
	}
}

// TryEvent is Event returning the error.
func (p *Page) TryEvent(ev any) error {
	var text []byte
	switch v := ev.(type) {
	case string:
		text = []byte(v)
	case []byte:
		text = v
	case json.RawMessage:
		text = v
	default:
		var err error
		if text, err = json.Marshal(ev); err != nil {
			return fmt.Errorf("livetest: Event: the event does not encode: %w", err)
		}
	}
	return explain(p.c, "Event", p.c.Event(text))
}

// Push is a frame the server sent that answers no event: a "patch" from a
// publish or a timer (already applied to the page), a "command" (focus,
// scroll), a "redirect" or "navigate" (already followed), an "error" or "close".
type Push struct {
	// Type is the frame's "t": "patch", "command", "redirect", "navigate",
	// "error", "close".
	Type string
	// Regions is a patch's new HTML by region id (nil for other frames).
	Regions map[string]string
	// To is where a redirect or navigate goes.
	To string
	// Frame is the whole frame, decoded.
	Frame map[string]any
	// Raw is the frame as JSON.
	Raw json.RawMessage
}

func (m Push) String() string { return string(m.Raw) }

// NextPush returns the next push, waiting at most timeout; it fails the test
// when none comes.
func (p *Page) NextPush(timeout time.Duration) Push {
	p.t.Helper()
	push, err := p.TryNextPush(timeout)
	if err != nil {
		p.fail(err, "livetest: NextPush(%v)", timeout)
	}
	return push
}

// TryNextPush is NextPush returning the error (live.ErrTimeout when none came).
func (p *Page) TryNextPush(timeout time.Duration) (Push, error) {
	text, err := p.c.NextPush(timeout)
	if err != nil {
		return Push{}, explain(p.c, "NextPush", err)
	}
	push := Push{Raw: json.RawMessage(text)}
	var frame struct {
		T       string            `json:"t"`
		Regions map[string]string `json:"regions"`
		To      string            `json:"to"`
	}
	if err := json.Unmarshal(push.Raw, &frame); err != nil {
		return push, fmt.Errorf("livetest: NextPush: the push %s does not decode: %w", text, err)
	}
	if err := json.Unmarshal(push.Raw, &push.Frame); err != nil {
		return push, fmt.Errorf("livetest: NextPush: the push %s does not decode: %w", text, err)
	}
	push.Type, push.Regions, push.To = frame.T, frame.Regions, frame.To
	return push, nil
}

// NoPush fails the test, naming what arrived, when a push arrives within the
// given time (or one is already waiting).
func (p *Page) NoPush(within time.Duration) {
	p.t.Helper()
	if err := p.TryNoPush(within); err != nil {
		p.fail(err, "livetest: NoPush(%v)", within)
	}
}

// TryNoPush is NoPush returning the error (live.ErrState, with the push in its
// message).
func (p *Page) TryNoPush(within time.Duration) error {
	return explain(p.c, "NoPush", p.c.RefutePush(within))
}

// HTML returns the inner HTML of the first element selector matches, as
// innerHTML reads it, or the whole document for "".
func (p *Page) HTML(selector string) string {
	p.t.Helper()
	html, err := p.TryHTML(selector)
	if err != nil {
		p.fail(err, "livetest: HTML(%q)", selector)
	}
	return html
}

// TryHTML is HTML returning the error.
func (p *Page) TryHTML(selector string) (string, error) {
	html, err := p.c.HTML(selector)
	return html, explain(p.c, "HTML", err)
}

// Text returns the text content of the first element selector matches.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	text, err := p.TryText(selector)
	if err != nil {
		p.fail(err, "livetest: Text(%q)", selector)
	}
	return text
}

// TryText is Text returning the error.
func (p *Page) TryText(selector string) (string, error) {
	text, err := p.c.Text(selector)
	return text, explain(p.c, "Text", err)
}

// Region returns the inner HTML of the element with id id (a region), as the
// browser shows it now. An id the page lacks fails, naming the ids it has.
func (p *Page) Region(id string) string {
	p.t.Helper()
	html, err := p.TryRegion(id)
	if err != nil {
		p.fail(err, "livetest: Region(%q)", id)
	}
	return html
}

// TryRegion is Region returning the error.
func (p *Page) TryRegion(id string) (string, error) {
	html, err := p.c.Region(id)
	return html, explain(p.c, "Region", err)
}

// Title returns the page's title.
func (p *Page) Title() string {
	p.t.Helper()
	title, err := p.c.Title()
	if err != nil {
		p.fail(explain(p.c, "Title", err), "livetest: Title")
	}
	return title
}

// Path returns the path (and query) of the page shown, which a followed
// redirect or navigate changes.
func (p *Page) Path() string {
	p.t.Helper()
	path, err := p.c.Path()
	if err != nil {
		p.fail(explain(p.c, "Path", err), "livetest: Path")
	}
	return path
}

// State decodes the session's state into v (a pointer to the page's state
// type): what it holds after every callback so far, asked of the session (the
// state never goes to the browser).
func (p *Page) State(v any) {
	p.t.Helper()
	if err := p.TryState(v); err != nil {
		p.fail(err, "livetest: State")
	}
}

// TryState is State returning the error.
func (p *Page) TryState(v any) error {
	text, err := p.c.State()
	if err != nil {
		return explain(p.c, "State", err)
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("livetest: the state %s does not decode into %T: %w", text, v, err)
	}
	return nil
}

// Flash returns the flash messages a callback set that no render has shown
// yet, by kind ("info", "error"); empty when there are none.
func (p *Page) Flash() map[string]string {
	p.t.Helper()
	text, err := p.c.Flash()
	if err != nil {
		p.fail(explain(p.c, "Flash", err), "livetest: Flash")
		return nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		p.fail(err, "livetest: Flash: %s", text)
	}
	return m
}
