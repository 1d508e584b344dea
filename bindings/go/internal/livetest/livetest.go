// Package livetest is a browser stand-in for tests: it loads mizulive pages over
// HTTP and speaks docs/protocol.md over a real WebSocket. Every wait is bounded by
// Wait; a test that does not get what it waits for fails with what it saw.
package livetest

import (
	"bufio"
	"context"
	"crypto/tls"
	"debug/elf"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Wait bounds every expected thing: a response, a frame.
const Wait = 5 * time.Second

// protocolVersion is the wire protocol's version (docs/protocol.md) the client speaks.
const protocolVersion = 4

// Boot is the page's lv-boot data.
type Boot struct {
	Token string `json:"token"`
	Seq   int    `json:"seq"`
	CSRF  string `json:"csrf"`
	Dev   bool   `json:"dev"`
}

// Page is a loaded page.
type Page struct {
	URL    string
	Status int
	Header http.Header
	HTML   string
	Boot   Boot
}

var bootRE = regexp.MustCompile(`<script id="lv-boot" type="application/json">(.*?)</script>`)

// jar keeps cookies as a browser does: the session token is bound to the browser
// cookie the first page GET sets, and a no-JS POST's 303 leads back to its session
// through a cookie. Like a browser's, it is shared by every server on a host.
var jar, _ = cookiejar.New(nil)

// transport trusts any certificate: tests serve https from httptest.NewTLSServer
// on loopback, each with a certificate of its own.
var transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}

// client never follows redirects, so tests see the 303s themselves.
var client = &http.Client{
	Timeout:       Wait,
	Jar:           jar,
	Transport:     transport,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Get loads a page. The boot data is parsed when the page has it.
func Get(t testing.TB, pageURL string) *Page {
	t.Helper()
	resp, err := client.Get(pageURL)
	if err != nil {
		t.Fatalf("GET %s: %v", pageURL, err)
	}
	return readPage(t, pageURL, resp)
}

// PostForm posts a form the way a browser without JavaScript does.
func PostForm(t testing.TB, pageURL string, form url.Values) *Page {
	t.Helper()
	resp, err := client.PostForm(pageURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", pageURL, err)
	}
	return readPage(t, pageURL, resp)
}

// Do sends a request with the test client (no redirects followed).
func Do(t testing.TB, req *http.Request) *Page {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return readPage(t, req.URL.String(), resp)
}

func readPage(t testing.TB, pageURL string, resp *http.Response) *Page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", pageURL, err)
	}
	p := &Page{URL: pageURL, Status: resp.StatusCode, Header: resp.Header, HTML: string(body)}
	if m := bootRE.FindStringSubmatch(p.HTML); m != nil {
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &p.Boot); err != nil {
			t.Fatalf("lv-boot of %s: %v in %q", pageURL, err, m[1])
		}
	}
	return p
}

// Frame is one server frame; only the fields of its type are set.
type Frame struct {
	T string `json:"t"`
	// reply
	Ref   int         `json:"ref"`
	OK    bool        `json:"ok"`
	Error *ReplyError `json:"error"`
	// joined, patch. Seq is joined's seq; for a patch, which carries none, its
	// number as a browser counts it: the one after the previous patch.
	Seq     int               `json:"seq"`
	Resumed bool              `json:"resumed"`
	Root    *string           `json:"root"`
	Token   string            `json:"token"`
	Regions map[string]string `json:"regions"`
	Title   *string           `json:"title"`
	// command
	Cmds []map[string]any `json:"cmds"`
	// redirect, navigate
	To      string `json:"to"`
	Replace bool   `json:"replace"`
	// error
	Code        string `json:"code"`
	Message     string `json:"message"`
	Recoverable bool   `json:"recoverable"`
	// close
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`

	Raw string `json:"-"`
}

// ReplyError is a failed reply's error.
type ReplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Conn is a joined live socket.
type Conn struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan Frame
	// readErr is why the reader stopped; read it once frames is closed.
	readErr error
	ref     int
	// Page is the page the socket joined; Joined is the joined frame.
	Page   *Page
	Joined Frame
}

// Origin is scheme://host of a URL, what a browser sends as Origin.
func Origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// WebSocketURL is the live socket's URL for a page URL (wss:// for an https page).
func WebSocketURL(pageURL string) string {
	p, _ := url.Parse(pageURL)
	if p.Scheme == "https" {
		return "wss://" + p.Host + "/_live/websocket"
	}
	return "ws://" + p.Host + "/_live/websocket"
}

// Dial opens the live socket of pageURL's host with the given Origin header and the
// cookies the test client keeps for that host.
func Dial(ctx context.Context, pageURL, origin string) (*websocket.Conn, *http.Response, error) {
	return DialWith(ctx, pageURL, origin, nil)
}

// DialWith is Dial with more request headers.
func DialWith(ctx context.Context, pageURL, origin string, extra http.Header) (*websocket.Conn, *http.Response, error) {
	h := extra.Clone()
	if h == nil {
		h = http.Header{}
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if u, err := url.Parse(pageURL); err == nil {
		for _, c := range jar.Cookies(u) {
			h.Add("Cookie", c.String())
		}
	}
	return websocket.Dial(ctx, WebSocketURL(pageURL), &websocket.DialOptions{
		HTTPHeader: h, HTTPClient: &http.Client{Transport: transport}})
}

// Open loads pageURL and joins its session over the WebSocket, as the runtime does.
func Open(t testing.TB, pageURL string) *Conn {
	t.Helper()
	p := Get(t, pageURL)
	if p.Status != http.StatusOK || p.Boot.Token == "" {
		t.Fatalf("GET %s: status %d, no boot data in %.300q", pageURL, p.Status, p.HTML)
	}
	return Join(t, p)
}

// Join opens a socket and joins a loaded page's session.
func Join(t testing.TB, p *Page) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	ws, _, err := Dial(ctx, p.URL, Origin(p.URL))
	if err != nil {
		t.Fatalf("WebSocket to %s: %v", p.URL, err)
	}
	ws.SetReadLimit(1 << 22)
	c := &Conn{t: t, ws: ws, frames: make(chan Frame, 1024), Page: p}
	go c.read()
	t.Cleanup(c.Close)
	c.Send(map[string]any{"t": "join", "v": protocolVersion, "token": p.Boot.Token, "url": p.URL, "seq": p.Boot.Seq})
	c.Joined = c.Expect("joined")
	return c
}

func (c *Conn) read() {
	defer close(c.frames)
	seq := 0
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.readErr = err
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = Frame{T: "?unparsable", Message: err.Error()}
		}
		// A patch is the one frame without a "t" on the wire; here it is named too.
		if f.T == "" {
			f.T = "patch"
		}
		switch f.T {
		case "joined":
			seq = f.Seq
		case "patch":
			seq++
			f.Seq = seq
		}
		f.Raw = string(data)
		c.frames <- f
	}
}

// Send writes one JSON frame.
func (c *Conn) Send(frame any) {
	c.t.Helper()
	data, err := json.Marshal(frame)
	if err != nil {
		c.t.Fatalf("encoding a frame: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("sending %s: %v", data, err)
	}
}

// Next returns the next frame that is not a heartbeat, failing the test after Wait.
func (c *Conn) Next() Frame {
	c.t.Helper()
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("socket closed while waiting for a frame: %v", c.readErr)
			}
			if f.T == "heartbeat" {
				continue
			}
			return f
		case <-timer.C:
			c.t.Fatalf("no frame within %v", Wait)
		}
	}
}

// Expect reads frames until one of type t arrives and returns it; frames of other
// types before it fail the test.
func (c *Conn) Expect(t string) Frame {
	c.t.Helper()
	f := c.Next()
	if f.T != t {
		c.t.Fatalf("expected a %q frame, got %s", t, f.Raw)
	}
	return f
}

// Result is what one event caused: the frames before its reply, and the reply.
type Result struct {
	Frames []Frame
	Reply  Frame
}

// Patch returns the result's patch frame, failing the test when there is none.
func (r Result) Patch(t testing.TB) Frame {
	t.Helper()
	for _, f := range r.Frames {
		if f.T == "patch" {
			return f
		}
	}
	t.Fatalf("no patch before the reply; frames: %s", rawFrames(r.Frames))
	return Frame{}
}

// Find returns the first frame of type typ, or nil.
func (r Result) Find(typ string) *Frame {
	for i := range r.Frames {
		if r.Frames[i].T == typ {
			return &r.Frames[i]
		}
	}
	return nil
}

func rawFrames(fs []Frame) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// Event sends an event and collects everything up to its reply.
func (c *Conn) Event(typ, name string, values map[string]string, form map[string][]string) Result {
	c.t.Helper()
	c.ref++
	ref := c.ref
	if values == nil {
		values = map[string]string{}
	}
	if form == nil {
		form = map[string][]string{}
	}
	c.Send(map[string]any{
		"t": "event", "ref": ref, "type": typ, "name": name, "target": nil,
		"values": values, "form": form, "key": nil,
		"meta": map[string]bool{"shift": false, "ctrl": false, "alt": false, "meta": false},
	})
	var r Result
	for {
		f := c.Next()
		if f.T == "reply" && f.Ref == ref {
			r.Reply = f
			return r
		}
		r.Frames = append(r.Frames, f)
		// A patch that answers the event is its reply too: the event succeeded.
		if f.T == "patch" && f.Ref == ref {
			r.Reply = Frame{T: "reply", Ref: ref, OK: true, Raw: f.Raw}
			return r
		}
	}
}

// Click sends a click event with data-lv-value-* values.
func (c *Conn) Click(name string, values map[string]string) Result {
	c.t.Helper()
	return c.Event("click", name, values, nil)
}

// MustClick is Click that fails the test unless the reply is ok.
func (c *Conn) MustClick(name string, values map[string]string) Result {
	c.t.Helper()
	r := c.Click(name, values)
	if !r.Reply.OK {
		c.t.Fatalf("click %q failed: %s", name, r.Reply.Raw)
	}
	return r
}

// Close closes the socket (idempotent).
func (c *Conn) Close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
}

// String describes the connection for failure messages.
func (c *Conn) String() string { return fmt.Sprintf("live socket of %s", c.Page.URL) }

// Example is a built example program running as a child process.
type Example struct {
	// URL is what the program printed after its banner prefix.
	URL    string
	Binary string
	cmd    *exec.Cmd
	lines  chan string
	exited chan error
}

// BuildExample builds the main package in dir (relative to the test's directory)
// into a temporary binary.
func BuildExample(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// StartExample runs bin with MIZULIVE_ADDR=127.0.0.1:0 in workdir and waits for
// its first stdout line, which must start with banner ("counter listening on ").
// The process is killed when the test ends if Stop did not end it first.
func StartExample(t testing.TB, bin, workdir, banner string) *Example {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = workdir
	cmd.Env = append(os.Environ(), "MIZULIVE_ADDR=127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	e := &Example{Binary: bin, cmd: cmd, lines: make(chan string, 64), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			e.lines <- sc.Text()
		}
		close(e.lines)
		e.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line := e.Line(t)
	if !strings.HasPrefix(line, banner+"http://") {
		t.Fatalf("first line %q does not start with %q", line, banner+"http://")
	}
	e.URL = strings.TrimPrefix(line, banner)
	return e
}

// Line returns the program's next stdout line, failing after Wait.
func (e *Example) Line(t testing.TB) string {
	t.Helper()
	select {
	case line, ok := <-e.lines:
		if !ok {
			t.Fatalf("%s ended its output", e.Binary)
		}
		return line
	case <-time.After(Wait):
		t.Fatalf("%s printed nothing within %v", e.Binary, Wait)
	}
	return ""
}

// Stop sends SIGINT and checks that the program says "stopping" and exits 0.
func (e *Example) Stop(t testing.TB) {
	t.Helper()
	if err := e.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	if line := e.Line(t); line != "stopping" {
		t.Fatalf("after SIGINT: %q", line)
	}
	for range e.lines {
	}
	select {
	case err := <-e.exited:
		if err != nil {
			t.Fatalf("%s exited with %v", e.Binary, err)
		}
	case <-time.After(Wait):
		t.Fatalf("%s did not exit within %v of SIGINT", e.Binary, Wait)
	}
}

// LinksNoMizulive fails the test when bin needs a shared libmizulive: examples
// link it statically so they run without LD_LIBRARY_PATH.
func LinksNoMizulive(t testing.TB, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("reading %s: %v", bin, err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("dynamic section of %s: %v", bin, err)
	}
	for _, lib := range libs {
		if strings.Contains(lib, "mizulive") {
			t.Fatalf("%s needs %s (libs: %v); it must link libmizulive.a", bin, lib, libs)
		}
	}
}

// WaitRegion reads frames until a patch whose region id contains want arrives,
// and returns that patch. Other frames are skipped; the whole wait is bounded by
// Wait.
func (c *Conn) WaitRegion(id, want string) Frame {
	c.t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	var seen []string
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("socket closed waiting for %q in region %q: %v; saw:\n%s", want, id, c.readErr, strings.Join(seen, "\n"))
			}
			if f.T == "patch" && strings.Contains(f.Regions[id], want) {
				return f
			}
			seen = append(seen, f.Raw)
		case <-deadline.C:
			c.t.Fatalf("no patch with %q in region %q within %v; saw:\n%s", want, id, Wait, strings.Join(seen, "\n"))
		}
	}
}

// Region returns the HTML of region id from the last patch before the reply that
// has it (other sessions' publishes may patch other regions in between), failing
// the test when none does.
func (r Result) Region(t testing.TB, id string) string {
	t.Helper()
	for i := len(r.Frames) - 1; i >= 0; i-- {
		if html, ok := r.Frames[i].Regions[id]; ok && r.Frames[i].T == "patch" {
			return html
		}
	}
	t.Fatalf("no patch of region %q before the reply; frames:\n%s", id, rawFrames(r.Frames))
	return ""
}
