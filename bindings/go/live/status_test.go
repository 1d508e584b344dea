//go:build cgo

package live_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A Mount that returns ErrNotFound answers 404; one that sets a status and fails
// answers that status; one that sets a status and succeeds renders the page under
// it; one that redirects answers 303 with Location. None of the failures is a 500.
func TestMountAnswersAStatus(t *testing.T) {
	probe := NewProbe()
	_, base := startApp(t, testOptions(false), registerProbe(t, probe))
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path string) (int, string, http.Header) {
		t.Helper()
		resp, err := client.Get(base + path)
		must(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		return resp.StatusCode, string(body), resp.Header
	}
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/rooms/missing", http.StatusNotFound, "404 Not Found"},
		{"/rooms/gone", http.StatusGone, "410 Gone"},
		{"/rooms/soft", http.StatusNotFound, "room=soft"},
		{"/rooms/lobby", http.StatusOK, "room=lobby"},
	} {
		status, body, _ := get(c.path)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", c.path, status, body, c.status, c.body)
		}
	}
	status, _, header := get("/rooms/moved")
	if status != http.StatusSeeOther || header.Get("Location") != "/rooms/lobby" {
		t.Errorf("GET /rooms/moved: %d to %q, want 303 to /rooms/lobby", status, header.Get("Location"))
	}
}
