package routertest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"

	"github.com/mizulive/mizulive/bindings/go/internal/livetest"
	"github.com/mizulive/mizulive/bindings/go/live"
)

// serve runs h on a real loopback server and checks, once the test has driven it,
// that the app opened no port of its own.
func serve(t *testing.T, lv *live.App, h http.Handler) string {
	t.Helper()
	before := livetest.ListeningPorts(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if _, err := lv.Addr(); !errors.Is(err, live.ErrState) {
			t.Errorf("the app has an address of its own: %v", err)
		}
		var opened []int
		for _, port := range livetest.ListeningPorts(t) {
			if !slices.Contains(before, port) {
				opened = append(opened, port)
			}
		}
		if want := []int{livetest.Port(t, srv.URL)}; !slices.Equal(opened, want) {
			t.Errorf("ports opened: %v, want only the server's %v", opened, want)
		}
	})
	return srv.URL
}

// chi: the page's handler at its route, Mount for /_live/* (chi matches "/_live/"
// literally), the router's middleware around both.
func TestChi(t *testing.T) {
	lv := newApp(t)
	counter := &counterPage{}
	h, err := live.PageHandler(lv, "/counter", counter)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(livetest.Gate)
	r.Handle("/counter", h)
	lv.Mount(r)
	livetest.Embedded(t, serve(t, lv, r), counter.mounts.Load)
}

// chi: pages registered with Register are mounted by Mount itself, route
// parameters included.
func TestChiMountsPages(t *testing.T) {
	lv := newApp(t)
	counter := &counterPage{}
	if err := live.Register(lv, "/counter", counter); err != nil {
		t.Fatal(err)
	}
	if err := live.Register(lv, "/rooms/{room}/counter", &counterPage{}); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(livetest.Gate)
	lv.Mount(r)
	base := serve(t, lv, r)
	livetest.Embedded(t, base, counter.mounts.Load)
	if p := livetest.Get(t, base+"/rooms/lobby/counter"); p.Status != http.StatusOK {
		t.Fatalf("a page with a route parameter: %d", p.Status)
	}
}

// gate is livetest.Gate as gin middleware.
func gate(c *gin.Context) {
	if c.GetHeader(livetest.BlockHeader) != "" {
		c.String(http.StatusUnauthorized, "blocked")
		c.Abort()
		return
	}
	c.Header(livetest.GateHeader, "passed")
	c.Next()
}

// gin: gin.WrapH around the page's handler and around Handler for /_live/*any.
func TestGin(t *testing.T) {
	gin.SetMode(gin.TestMode)
	lv := newApp(t)
	counter := &counterPage{}
	h, err := live.PageHandler(lv, "/counter", counter)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(gate)
	r.Any("/counter", gin.WrapH(h))
	r.Any("/_live/*any", gin.WrapH(lv.Handler()))
	livetest.Embedded(t, serve(t, lv, r), counter.mounts.Load)
}
