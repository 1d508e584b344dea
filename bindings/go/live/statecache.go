package live

/*
#include "shim.h"
*/
import "C"

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// stateCache is a session's state as the last successful event or info callback
// left it, decoded, with its JSON text and the session's ids: the library keeps it
// with the session (lv_set_state_cache) and says whether the state is still that
// one, so the next callback skips reading and decoding it. The library drops the
// handle when the session leaves this node.
//
// Only a state type that encoding/json carries whole is kept (see cacheable), so a
// callback cannot tell a kept state from a decoded one.
type stateCache[T any] struct {
	handle handle
	// The session's ids, which never change.
	id, userID string
	// Callbacks of one session never overlap, but they run on different threads,
	// synchronized by the library where the race detector cannot see it.
	mu    sync.Mutex
	state T
	text  string
}

func (e *stateCache[T]) get() (T, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state, e.text
}

func (e *stateCache[T]) put(state T, text string) {
	e.mu.Lock()
	e.state, e.text = state, text
	e.mu.Unlock()
}

// cacheable reports whether every value of type t comes back from a JSON round
// trip as it was: exported fields (none tagged "-") of booleans, numbers, strings,
// and slices, arrays, maps, pointers and structs of those; no interface (it would
// decode as map[string]any or float64), no custom (un)marshaler. A state type that
// is not is decoded before every callback, as the round trip would show its
// callbacks.
func cacheable(t reflect.Type) bool {
	return roundTrips(t, map[reflect.Type]bool{})
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func roundTrips(t reflect.Type, seen map[reflect.Type]bool) bool {
	if done, ok := seen[t]; ok {
		return done // a recursive type: true while its walk is under way
	}
	seen[t] = true
	for _, m := range []reflect.Type{jsonMarshaler, jsonUnmarshaler, textMarshaler, textUnmarshaler} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return false
		}
	}
	ok := false
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		ok = true
	case reflect.Slice, reflect.Array, reflect.Pointer:
		ok = roundTrips(t.Elem(), seen)
	case reflect.Map:
		ok = t.Key().Kind() == reflect.String && roundTrips(t.Elem(), seen)
	case reflect.Struct:
		ok = true
		for i := 0; i < t.NumField() && ok; i++ {
			f := t.Field(i)
			ok = f.IsExported() && f.Tag.Get("json") != "-" && roundTrips(f.Type, seen)
		}
	}
	seen[t] = ok
	return ok
}
