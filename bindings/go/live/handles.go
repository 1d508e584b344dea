package live

import (
	"sync"
	"sync/atomic"
)

// handle names a Go value the library holds for the package (a page's user_data, a
// kept state) as an integer: C may not keep a Go pointer. runtime/cgo.Handle does
// the same through a sync.Map, which hashes an interface on every lookup; these are
// looked up on every callback, so they live in a table of slots that never move,
// where a lookup is two loads and an index.
type handle uintptr

// handleChunk is a block of slots; a slot holds its value boxed, so that one slot
// can hold values of different types over time.
type handleChunk [chunkSlots]atomic.Pointer[handleBox]

const chunkSlots = 1024

type handleBox struct{ v any }

var handles struct {
	mu sync.Mutex
	// chunks is replaced (never changed) when it grows; the chunks stay where they
	// are, so a lookup needs no lock.
	chunks atomic.Pointer[[]*handleChunk]
	// free holds released slots for reuse; next is the first slot never used.
	free []handle
	next handle
}

// liveHandles counts the handles the library holds, so tests can check that every
// drop function ran exactly once.
var liveHandles atomic.Int64

// newHandle stores v in a free slot. Handles start at 1: 0 is never one.
func newHandle(v any) handle {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	var h handle
	if n := len(handles.free); n > 0 {
		h = handles.free[n-1]
		handles.free = handles.free[:n-1]
	} else {
		handles.next++
		h = handles.next
		var chunks []*handleChunk
		if p := handles.chunks.Load(); p != nil {
			chunks = *p
		}
		if i := int(h / chunkSlots); i >= len(chunks) {
			grown := append(chunks[:len(chunks):len(chunks)], new(handleChunk))
			handles.chunks.Store(&grown)
		}
	}
	handleSlot(h).Store(&handleBox{v: v})
	liveHandles.Add(1)
	return h
}

// value returns what h holds; it panics on a handle that holds nothing, as
// cgo.Handle does: that is a bug in the package or the library.
func (h handle) value() any {
	if h != 0 {
		if p := handles.chunks.Load(); p != nil && int(h/chunkSlots) < len(*p) {
			if b := handleSlot(h).Load(); b != nil {
				return b.v
			}
		}
	}
	panic("live: misuse of an invalid handle")
}

// deleteHandle empties h's slot for reuse.
func deleteHandle(h handle) {
	_ = h.value() // an invalid handle panics, as cgo.Handle.Delete does
	handleSlot(h).Store(nil)
	handles.mu.Lock()
	handles.free = append(handles.free, h)
	handles.mu.Unlock()
	liveHandles.Add(-1)
}

func handleSlot(h handle) *atomic.Pointer[handleBox] {
	return &(*handles.chunks.Load())[h/chunkSlots][h%chunkSlots]
}
