package live

import "testing"

// Handles hold their values across chunks, are reused once deleted, and one that
// holds nothing panics rather than returning another value.
func TestHandles(t *testing.T) {
	before := liveHandles.Load()
	var hs []handle
	for i := 0; i < 3*chunkSlots+5; i++ {
		hs = append(hs, newHandle(i))
	}
	for i, h := range hs {
		if got := h.value(); got != i {
			t.Fatalf("handle %d holds %v, want %d", h, got, i)
		}
	}
	deleteHandle(hs[7])
	mustPanic(t, "a deleted handle", func() { hs[7].value() })
	mustPanic(t, "deleting it again", func() { deleteHandle(hs[7]) })
	reused := newHandle("again")
	if reused != hs[7] || reused.value() != "again" {
		t.Fatalf("a new handle %d holding %v, want slot %d reused", reused, reused.value(), hs[7])
	}
	hs[7] = reused
	mustPanic(t, "handle 0", func() { handle(0).value() })
	mustPanic(t, "a handle past every chunk", func() { handle(1 << 40).value() })
	for _, h := range hs {
		deleteHandle(h)
	}
	if n := liveHandles.Load(); n != before {
		t.Fatalf("%d handles live after deleting all, want %d", n, before)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s: no panic", what)
		}
	}()
	f()
}
