package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// startChat serves the chat on a free port with a short grace period, so a
// closed tab leaves its room quickly.
func startChat(t *testing.T) string {
	t.Helper()
	lv, err := live.New(live.Options{Views: viewsDir(), Dev: true, Grace: 300 * time.Millisecond, HostThreads: 2, IOThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lv.Close() })
	if err := Register(lv, NewDirectory(), "/"); err != nil {
		t.Fatal(err)
	}
	if err := lv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr, err := lv.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func guest(c *livetest.Conn) string {
	// The session's chat name, as the rename field shows it.
	html := c.Page.HTML
	i := strings.Index(html, `name="name" value="`)
	if i < 0 {
		return ""
	}
	rest := html[i+len(`name="name" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestRoom(t *testing.T) {
	base := startChat(t)
	a := livetest.Open(t, base+"/rooms/test")
	contains(t, "room page", a.Page.HTML, "<h1>#test</h1>")
	contains(t, "room page", a.Page.HTML, "No messages yet. Say hello!")
	contains(t, "room page", a.Page.HTML, "<title>#test · mizulive chat</title>")
	ann := guest(a)
	if !strings.HasPrefix(ann, "guest-") || len(ann) != 10 {
		t.Fatalf("guest name %q", ann)
	}

	b := livetest.Open(t, base+"/rooms/test")
	a.WaitRegion("members", "Here now (2)")

	// A message reaches everyone in the room, the sender too.
	r := a.MustClick("send", nil)
	contains(t, "empty send", r.Region(t, "composer"), "Type a message first.")
	r = a.Event("submit", "send", nil, map[string][]string{"text": {"  hello <world>  "}})
	if !r.Reply.OK {
		t.Fatalf("send: %s", r.Reply.Raw)
	}
	lacks(t, "composer after send", r.Region(t, "composer"), "Type a message first.")
	if f := r.Find("command"); f == nil || f.Cmds[0]["selector"] != "#send input[name=text]" {
		t.Fatalf("no focus command after send: %+v", r.Frames)
	}
	want := "<li><b>" + ann + "</b> hello &lt;world&gt;</li>"
	a.WaitRegion("messages", want)
	b.WaitRegion("messages", want)

	long := strings.Repeat("é", maxText+1)
	r = b.Event("submit", "send", nil, map[string][]string{"text": {long}})
	contains(t, "long send", r.Region(t, "composer"), "Messages are at most 500 characters.")

	// Renames show in everyone's member list.
	r = b.Event("submit", "rename", nil, map[string][]string{"name": {"Zed"}})
	contains(t, "composer after rename", r.Region(t, "composer"), `value="Zed"`)
	a.WaitRegion("members", "<li>Zed</li>")
	r = b.Event("submit", "rename", nil, map[string][]string{"name": {strings.Repeat("x", maxName+1)}})
	contains(t, "long name", r.Region(t, "composer"), "A name has 1 to 24 characters.")

	// A newcomer sees the history; the lobby lists the room.
	c := livetest.Open(t, base+"/rooms/test")
	contains(t, "history", c.Page.HTML, want)
	lobby := livetest.Open(t, base+"/rooms")
	contains(t, "lobby", lobby.Page.HTML, `<a href="/rooms/test">#test</a> <span class="muted">3 here</span>`)
	contains(t, "lobby", lobby.Page.HTML, `<a href="/rooms/lobby">#lobby</a>`)

	// A closed tab leaves the room once its grace period is over.
	c.Close()
	b.Close()
	a.WaitRegion("members", "Here now (1)")
	lobby.WaitRegion("rooms", `#test</a> <span class="muted">1 here</span>`)

}

func TestLobby(t *testing.T) {
	base := startChat(t)
	lobby := livetest.Open(t, base+"/")
	contains(t, "lobby", lobby.Page.HTML, "<h1>Chat rooms</h1>")
	r := lobby.Event("submit", "join", nil, map[string][]string{"room": {"  My Room!! "}})
	if f := r.Find("redirect"); f == nil || f.To != "/rooms/my-room" {
		t.Fatalf("join: %+v", r.Frames)
	}
	r = lobby.Event("submit", "join", nil, map[string][]string{"room": {"!!!"}})
	contains(t, "bad room", r.Region(t, "join-error"), "Name a room: letters, digits and dashes.")

	// Without JavaScript the join form posts and is answered with a 303 to the room.
	page := livetest.Get(t, base+"/rooms")
	post := livetest.PostForm(t, base+"/rooms", url.Values{
		"_lv_token": {page.Boot.Token}, "_lv_event": {"join"}, "_csrf": {page.Boot.CSRF}, "room": {"No JS"},
	})
	if post.Status != http.StatusSeeOther || post.Header.Get("Location") != "/rooms/no-js" {
		t.Fatalf("no-JS join: %d to %q", post.Status, post.Header.Get("Location"))
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Lobby": "lobby", "  My Room!! ": "my-room", "ÄÖ-x": "x", "!!!": "",
		strings.Repeat("abc ", 10): "abc-abc-abc-abc-abc-abc-abc-abc-",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// The built program links libmizulive statically, listens on $MIZULIVE_ADDR,
// prints its banner first and stops cleanly on SIGINT.
func TestChatProgram(t *testing.T) {
	bin := livetest.BuildExample(t, ".")
	livetest.LinksNoMizulive(t, bin)
	srv := livetest.StartExample(t, bin, t.TempDir(), "chat listening on ")
	defer srv.Stop(t)
	if !strings.HasSuffix(srv.URL, "/rooms/lobby") {
		t.Fatalf("banner URL %q", srv.URL)
	}
	c := livetest.Open(t, srv.URL)
	contains(t, "lobby room", c.Page.HTML, "<h1>#lobby</h1>")
	c.Event("submit", "send", nil, map[string][]string{"text": {"hi"}})
	c.WaitRegion("messages", "</b> hi</li>")
}

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

func lacks(t *testing.T, what, got, unwanted string) {
	t.Helper()
	if strings.Contains(got, unwanted) {
		t.Fatalf("%s: %q contains %q", what, got, unwanted)
	}
}
