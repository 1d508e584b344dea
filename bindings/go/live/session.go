package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// Session is one browser session of a page, as a callback sees it. The library
// keeps the state between callbacks as JSON: before each callback it is decoded
// into State, and after a callback that returns nil, State is encoded and stored,
// flash messages are set and the marked regions re-rendered. A callback that
// fails (returns an error or panics) changes nothing: the session keeps the state
// it had before.
//
// A Session is valid during its callback only; do not keep it.
type Session[T any] struct {
	// ID is the session id (32 hex characters).
	ID string
	// UserID is the user the auth hook named for this session, or "".
	UserID string
	// State is the page's typed state. It round-trips through encoding/json, so
	// only exported fields (with their json tags) survive, and templates see it
	// under those names: a field tagged `json:"count"` is {{ state.count }}. When
	// the round trip gives every value of T back whole (exported fields of plain
	// types, no interfaces or custom marshalers), the session keeps State decoded
	// from one callback to the next instead of decoding it again, which callbacks
	// cannot tell apart; so do not keep references into State (its slices, maps,
	// pointers) after the callback returns.
	State T
	// Flash holds messages for the next render that reaches the browser.
	Flash Flash

	marks   []string
	markAll bool
	// marked holds the first marks: most callbacks mark one or two regions, and
	// then Mark allocates nothing.
	marked [2]string
	// cache is the session's decoded state kept with it between callbacks, if any.
	cache *stateCache[T]
}

// Mark marks regions (by DOM id) for re-rendering after the callback. Marking the
// root id ("lv-root" unless Options.RootID says otherwise) re-renders the whole
// page body. An id the page did not declare fails the callback.
func (s *Session[T]) Mark(ids ...string) {
	s.marks = append(s.marks, ids...)
}

// MarkAll marks every region of the page (the page body when it has none).
func (s *Session[T]) MarkAll() {
	s.markAll = true
}

// ReplaceState replaces the whole state and marks every region, since anything
// on the page may have changed.
func (s *Session[T]) ReplaceState(next T) {
	s.State = next
	s.MarkAll()
}

// Flash collects flash messages: templates see them as flash.<kind> (flash.info,
// flash.error) on the next render that reaches the browser, then they are cleared.
type Flash struct {
	kinds, messages []string
}

// Set sets the flash message of a kind.
func (f *Flash) Set(kind, message string) {
	f.kinds = append(f.kinds, kind)
	f.messages = append(f.messages, message)
}

// Info sets flash.info.
func (f *Flash) Info(message string) { f.Set("info", message) }

// Error sets flash.error.
func (f *Flash) Error(message string) { f.Set("error", message) }

// effects is what a callback collected in s, for package livetest.
func (s *Session[T]) effects() (marks []string, all bool, kinds, messages []string) {
	return s.marks, s.markAll, s.Flash.kinds, s.Flash.messages
}

// newSession builds the session a callback works on. With load, State is the
// session's cached state (with cached, see stateCache; kept is how the trampoline
// found it) when the library says it is still current, else decoded from the
// library's copy; the JSON text it stands for is returned so commit can skip
// storing a state that did not change.
func newSession[T any](c *Ctx, load, cached bool, kept uintptr) (*Session[T], string, error) {
	s := &Session[T]{}
	s.marks = s.marked[:0]
	fresh := false
	if load && cached && kept != 0 {
		s.cache, _ = handle(kept >> 1).value().(*stateCache[T])
		fresh = kept&1 != 0
	}
	if s.cache != nil {
		// A session's ids never change: kept with its state, they need no cgo call.
		s.ID, s.UserID = s.cache.id, s.cache.userID
	} else {
		s.ID, s.UserID = c.SessionID(), c.UserID()
	}
	if !load {
		return s, "", nil
	}
	if s.cache != nil && fresh {
		state, text := s.cache.get()
		s.State = state
		return s, text, nil
	}
	p := C.lv_get_state(c.raw())
	if p == nil {
		return nil, "", fmt.Errorf("live: reading the state: %w", lastError(C.LV_ERR_STATE))
	}
	text := C.GoString(p)
	if err := json.Unmarshal([]byte(text), &s.State); err != nil {
		return nil, "", fmt.Errorf("live: decoding the state into %T: %w", s.State, err)
	}
	return s, text, nil
}

// commit hands what the callback did to the library: the state (when it
// changed), flash messages, then marks; with keep, the state is then kept decoded
// for the session's next callback. Any failure fails the callback, and the library
// then discards all of it (and counts the kept state as stale). enc is the state
// type's encoder (encoderFor). Without flash messages it is one cgo call.
func (s *Session[T]) commit(c *Ctx, prev string, keep bool, enc encodeFn) error {
	data, err := marshalWith(enc, &s.State)
	if err != nil {
		return fmt.Errorf("live: encoding the state: %w", err)
	}
	var state *C.char
	text := prev
	if string(data) != prev {
		data = nulTerminated(data)
		// data is not written again: the text may share its bytes.
		text = unsafe.String(&data[0], len(data)-1)
		state = bytesPtr(data)
	}
	for _, id := range s.marks {
		if err := checkNUL("region id", id); err != nil {
			return err
		}
	}
	// One id, the usual case, is passed as it is.
	marks := strings.Join(s.marks, "\x00")
	cache, kept := s.cache, uintptr(0)
	if keep {
		if cache == nil {
			cache = &stateCache[T]{id: s.ID, userID: s.UserID}
			cache.handle = newHandle(cache)
		}
		kept = uintptr(cache.handle)
	}
	if len(s.Flash.kinds) > 0 {
		// Flash messages are set after the state and before the marks.
		err := commitSteps(c, state, false, "", 0, 0)
		for i, kind := range s.Flash.kinds {
			if err == nil {
				err = c.flash(kind, s.Flash.messages[i])
			}
		}
		if err != nil {
			if keep && s.cache == nil {
				deleteHandle(cache.handle)
			}
			return err
		}
		state = nil
	}
	err = commitSteps(c, state, s.markAll, marks, len(s.marks), kept)
	runtime.KeepAlive(data)
	if err != nil {
		if keep && s.cache == nil {
			// The library did not take the new handle.
			deleteHandle(cache.handle)
		}
		return err
	}
	if keep {
		cache.put(s.State, text)
	}
	return nil
}

// commitSteps makes lvgo_commit's calls and turns a failure into the error of the
// step that failed. marks holds n region ids with a NUL between them.
func commitSteps(c *Ctx, state *C.char, all bool, marks string, n int, kept uintptr) error {
	markAll := C.int(0)
	if all {
		markAll = 1
	}
	ids := (*C.char)(unsafe.Pointer(unsafe.StringData(marks)))
	rc := C.lvgo_commit(c.raw(), state, markAll, ids, C.size_t(len(marks)), C.size_t(n), C.uintptr_t(kept))
	runtime.KeepAlive(marks)
	if rc == C.LV_OK {
		return nil
	}
	err := lastError(rc & 0xff)
	switch rc >> 8 {
	case C.LVGO_STATE:
		return fmt.Errorf("live: storing the state: %w", err)
	case C.LVGO_CACHE:
		return fmt.Errorf("live: keeping the state: %w", err)
	}
	return err
}
