package live_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

type BrowserState struct {
	Voter string `json:"voter"`
	Login string `json:"login"`
	Err   string `json:"err"`
}

// BrowserPage shows what its Mount found in the browser session, and its events
// write it.
type BrowserPage struct {
	mu   sync.Mutex
	kept *live.Ctx
	ids  []string // the browser id each Mount saw
}

func browserString(t map[string]json.RawMessage, key string) (string, error) {
	raw, ok := t[key]
	if !ok {
		return "", nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func (p *BrowserPage) Mount(ctx *live.Ctx, s *live.Session[BrowserState]) error {
	m, err := ctx.Browser()
	if err != nil {
		return err
	}
	if s.State.Voter, err = browserString(m, "voter"); err != nil {
		return err
	}
	s.State.Login, err = browserString(m, "login")
	p.mu.Lock()
	p.kept = ctx
	p.ids = append(p.ids, ctx.BrowserID())
	p.mu.Unlock()
	return err
}

func (p *BrowserPage) View() live.View {
	return live.View{Page: "browser/index"}
}

func (p *BrowserPage) Handle(ctx *live.Ctx, s *live.Session[BrowserState], e live.Event) error {
	var err error
	switch e.Name {
	case "vote":
		if err = ctx.SetBrowser("voter", e.Get("v")); err != nil {
			return err
		}
		// The callback sees its own write.
		m, err := ctx.Browser()
		if err != nil {
			return err
		}
		s.State.Voter, err = browserString(m, "voter")
		if err != nil {
			return err
		}
	case "big":
		err = ctx.SetBrowser("big", strings.Repeat("x", 200))
	case "unvote":
		err = ctx.DeleteBrowser("voter")
	case "fail":
		// A failing callback's writes are dropped.
		if err := ctx.SetBrowser("voter", "dropped"); err != nil {
			return err
		}
		return errors.New("failing on purpose")
	}
	s.State.Err = ""
	switch {
	case errors.Is(err, live.ErrState):
		s.State.Err = "state: " + err.Error()
	case errors.Is(err, live.ErrNotFound):
		s.State.Err = "not found"
	case err != nil:
		return err
	}
	s.MarkAll()
	return nil
}

func (p *BrowserPage) Info(ctx *live.Ctx, s *live.Session[BrowserState], msg live.Message) error {
	return nil
}

// getFresh loads a page as a browser that has never been here: a cookie jar of its own.
func getFresh(t *testing.T, pageURL string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: livetest.Wait}
	resp, err := client.Get(pageURL)
	if err != nil {
		t.Fatalf("GET %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", pageURL, resp.StatusCode)
	}
	return string(body)
}

// A value an event sets in the browser session reaches the next page load's Mount
// (and the template's browser) in the same browser, and not in another browser.
func TestBrowserSession(t *testing.T) {
	page := &BrowserPage{}
	opts := testOptions(false)
	opts.MaxBrowserSessionBytes = 128
	_, base := startApp(t, opts, func(lv *live.App) { must(t, live.Register(lv, "/browser", page)) })

	c := livetest.Open(t, base+"/browser")
	contains(t, "first load", c.Page.HTML, "voter= login=")
	r := c.MustClick("vote", map[string]string{"v": "v7"})
	contains(t, "after vote", root(t, r), "voter=v7 ")
	// Its own write is seen by the event's own render too.
	contains(t, "template after vote", root(t, r), "template=v7")

	contains(t, "next load", livetest.Get(t, base+"/browser").HTML, "voter=v7 login= err= template=v7")
	contains(t, "another browser", getFresh(t, base+"/browser"), "voter= login= err= template=</p>")
	page.mu.Lock()
	ids := append([]string(nil), page.ids...)
	page.mu.Unlock()
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] == ids[2] || len(ids[0]) != 22 {
		t.Fatalf("browser ids of two loads in one browser, then another browser: %q", ids)
	}

	// Over MaxBrowserSessionBytes: an error naming the limit, and nothing stored.
	r = c.MustClick("big", nil)
	contains(t, "too big", root(t, r), "err=state: ")
	contains(t, "too big", root(t, r), "max_browser_session_bytes")
	contains(t, "after too big", livetest.Get(t, base+"/browser").HTML, "voter=v7 login= err=")

	// A failing callback's write is dropped.
	if r := c.Click("fail", nil); r.Reply.OK {
		t.Fatalf("fail: %s", r.Reply.Raw)
	}
	contains(t, "after fail", livetest.Get(t, base+"/browser").HTML, "voter=v7 ")

	r = c.MustClick("unvote", nil)
	contains(t, "unvote", root(t, r), "err= ")
	contains(t, "after unvote", livetest.Get(t, base+"/browser").HTML, "voter= login=")
	r = c.MustClick("unvote", nil)
	contains(t, "unvote twice", root(t, r), "err=not found")

	// A Ctx kept past its callback fails cleanly.
	page.mu.Lock()
	kept := page.kept
	page.mu.Unlock()
	if _, err := kept.Browser(); !errors.Is(err, live.ErrState) {
		t.Fatalf("Browser on a kept Ctx: %v, want ErrState", err)
	}
	if err := kept.SetBrowser("voter", "late"); !errors.Is(err, live.ErrState) {
		t.Fatalf("SetBrowser on a kept Ctx: %v, want ErrState", err)
	}
	if err := kept.DeleteBrowser("voter"); !errors.Is(err, live.ErrState) {
		t.Fatalf("DeleteBrowser on a kept Ctx: %v, want ErrState", err)
	}
}

// The auth hook reads and writes the browser session: what it sets, Mount sees;
// over the limit its write fails with ErrState; outside the hook the request is
// no longer usable.
func TestAuthBrowserSession(t *testing.T) {
	page := &BrowserPage{}
	opts := testOptions(false)
	opts.MaxBrowserSessionBytes = 128
	var (
		mu      sync.Mutex
		bigErr  error
		ownRead string
		kept    *http.Request
	)
	opts.Auth = func(r *http.Request) live.AuthResult {
		q := r.URL.Query()
		if u := q.Get("login"); u != "" {
			if err := live.AuthSetBrowser(r, "login", u); err != nil {
				t.Errorf("AuthSetBrowser: %v", err)
			}
			m, err := live.AuthBrowser(r)
			if err != nil {
				t.Errorf("AuthBrowser: %v", err)
			}
			mu.Lock()
			ownRead = string(m["login"])
			mu.Unlock()
		}
		if q.Get("logout") != "" {
			if err := live.AuthDeleteBrowser(r, "login"); err != nil {
				t.Errorf("AuthDeleteBrowser: %v", err)
			}
			if err := live.AuthDeleteBrowser(r, "login"); !errors.Is(err, live.ErrNotFound) {
				t.Errorf("AuthDeleteBrowser of a missing key: %v, want ErrNotFound", err)
			}
		}
		if q.Get("big") != "" {
			err := live.AuthSetBrowser(r, "big", strings.Repeat("x", 200))
			mu.Lock()
			bigErr = err
			mu.Unlock()
		}
		mu.Lock()
		kept = r
		mu.Unlock()
		return live.Allow("")
	}
	_, base := startApp(t, opts, func(lv *live.App) { must(t, live.Register(lv, "/browser", page)) })

	contains(t, "login", livetest.Get(t, base+"/browser?login=ann").HTML, "login=ann ")
	mu.Lock()
	if ownRead != `"ann"` {
		t.Errorf("the hook read back %q, want its own write", ownRead)
	}
	mu.Unlock()
	contains(t, "later load", livetest.Get(t, base+"/browser").HTML, "login=ann ")
	contains(t, "another browser", getFresh(t, base+"/browser"), "login= ")

	contains(t, "too big", livetest.Get(t, base+"/browser?big=1").HTML, "login=ann ")
	mu.Lock()
	err := bigErr
	r := kept
	mu.Unlock()
	if !errors.Is(err, live.ErrState) || !strings.Contains(err.Error(), "max_browser_session_bytes") {
		t.Fatalf("AuthSetBrowser over the limit: %v, want ErrState naming max_browser_session_bytes", err)
	}

	contains(t, "logout", livetest.Get(t, base+"/browser?logout=1").HTML, "login= ")

	if _, err := live.AuthBrowser(r); !errors.Is(err, live.ErrState) {
		t.Fatalf("AuthBrowser after the hook: %v, want ErrState", err)
	}
	if err := live.AuthSetBrowser(r, "login", "late"); !errors.Is(err, live.ErrState) {
		t.Fatalf("AuthSetBrowser after the hook: %v, want ErrState", err)
	}
	if err := live.AuthDeleteBrowser(httptestRequest(), "login"); !errors.Is(err, live.ErrState) {
		t.Fatalf("AuthDeleteBrowser on a request no hook was given: %v, want ErrState", err)
	}
}

// root returns a patch's re-rendered page body.
func root(t *testing.T, r livetest.Result) string {
	t.Helper()
	p := r.Patch(t)
	if p.Root == nil {
		t.Fatalf("patch has no root: %s", p.Raw)
	}
	return *p.Root
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	return r
}
