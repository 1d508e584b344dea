package livetest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// GateHeader is set on every response that went through Gate.
const GateHeader = "X-Gate"

// BlockHeader on a request makes Gate refuse it with 401 before it reaches the
// handler it wraps.
const BlockHeader = "X-Block"

// Gate is a user's middleware as a host server would have one (an auth check, a
// logger): it marks every response it lets through with GateHeader and answers
// 401 "blocked" to a request that carries BlockHeader.
func Gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(BlockHeader) != "" {
			http.Error(w, "blocked", http.StatusUnauthorized)
			return
		}
		w.Header().Set(GateHeader, "passed")
		next.ServeHTTP(w, r)
	})
}

// Embedded checks the counter page at base+"/counter" served by an App mounted in
// a host's router behind Gate (or a middleware that does the same), as a browser
// uses it: the page, the runtime script, the WebSocket (a click comes back as a
// patch), the Origin check, CSRF on a no-JS form post, and that the middleware
// wraps pages and sockets alike. mounts counts the counter's Mount calls: a
// request the middleware blocks must not reach the page.
func Embedded(t testing.TB, base string, mounts func() int64) {
	t.Helper()
	pageURL := base + "/counter"
	p := Get(t, pageURL)
	if p.Status != http.StatusOK || p.Boot.Token == "" {
		t.Fatalf("GET %s: %d %.300q", pageURL, p.Status, p.HTML)
	}
	for _, want := range []string{`<div id="lv-root" data-lv>`, `<strong id="count">0</strong>`, `data-lv-click="inc"`} {
		if !strings.Contains(p.HTML, want) {
			t.Fatalf("the page lacks %q:\n%s", want, p.HTML)
		}
	}
	if got := p.Header.Get(GateHeader); got != "passed" {
		t.Fatalf("the page did not go through the router's middleware (%s: %q)", GateHeader, got)
	}
	js := Get(t, base+"/_live/runtime.js")
	if js.Status != http.StatusOK || len(js.HTML) < 100 || js.Header.Get(GateHeader) != "passed" {
		t.Fatalf("runtime.js: %d, %d bytes, %s: %q", js.Status, len(js.HTML), GateHeader, js.Header.Get(GateHeader))
	}

	c := Join(t, p)
	r := c.MustClick("inc", map[string]string{"by": "2"})
	if got := r.Region(t, "stats"); !strings.Contains(got, `<strong id="count">2</strong>`) {
		t.Fatalf("stats after a click: %q", got)
	}
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if ws, resp, err := Dial(ctx, pageURL, "http://evil.example"); err == nil {
		ws.CloseNow()
		t.Fatal("a cross-origin WebSocket was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-origin WebSocket: %v (%v), want 403", resp, err)
	}

	page := Get(t, pageURL)
	bad := PostForm(t, pageURL, url.Values{"_lv_token": {page.Boot.Token}, "_lv_click": {"inc?by=1"}})
	if bad.Status != http.StatusForbidden {
		t.Fatalf("a no-JS post without CSRF: %d %.200q", bad.Status, bad.HTML)
	}
	post := PostForm(t, pageURL, url.Values{
		"_lv_token": {page.Boot.Token}, "_csrf": {page.Boot.CSRF}, "_lv_click": {"inc?by=1"},
	})
	if post.Status != http.StatusSeeOther {
		t.Fatalf("a no-JS post: %d %.200q", post.Status, post.HTML)
	}
	if after := Get(t, base+post.Header.Get("Location")); !strings.Contains(after.HTML, `<strong id="count">1</strong>`) {
		t.Fatalf("the page after a no-JS post: %.500q", after.HTML)
	}

	before := mounts()
	req, err := http.NewRequest(http.MethodGet, pageURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(BlockHeader, "1")
	if blocked := Do(t, req); blocked.Status != http.StatusUnauthorized || !strings.Contains(blocked.HTML, "blocked") {
		t.Fatalf("a request the middleware blocks: %d %.200q", blocked.Status, blocked.HTML)
	}
	if ws, resp, err := DialWith(ctx, pageURL, Origin(pageURL), http.Header{BlockHeader: {"1"}}); err == nil {
		ws.CloseNow()
		t.Fatal("a WebSocket the middleware blocks was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a WebSocket the middleware blocks: %v (%v), want its 401", resp, err)
	}
	if n := mounts(); n != before {
		t.Fatalf("a request the middleware blocked reached the page (%d mounts, was %d)", n, before)
	}
}

// ListeningPorts returns the TCP ports this process listens on.
func ListeningPorts(t testing.TB) []int {
	t.Helper()
	return listeningPorts(t, "/proc/self")
}

// Ports returns the TCP ports the running example listens on.
func (e *Example) Ports(t testing.TB) []int {
	t.Helper()
	return listeningPorts(t, fmt.Sprintf("/proc/%d", e.cmd.Process.Pid))
}

// listeningPorts reads a process's listening TCP ports from its /proc folder: the
// sockets among its file descriptors in state LISTEN.
func listeningPorts(t testing.TB, proc string) []int {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		t.Fatalf("listing %s/fd: %v", proc, err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{filepath.Join(proc, "net", "tcp"), filepath.Join(proc, "net", "tcp6")} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !mine[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if port, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports = append(ports, int(port))
			}
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// Port is the port of a base URL ("http://127.0.0.1:41234").
func Port(t testing.TB, base string) int {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("no port in %q", base)
	}
	return port
}
