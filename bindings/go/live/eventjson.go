//go:build cgo

package live

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// The event JSON the library hands to on_event has one shape: compact, a flat
// object of strings, nulls, booleans and flat objects of scalars (the form's fields
// are arrays of them). readEvent reads that shape directly, without the reflection
// and the copies encoding/json needs: it costs an event a fraction of what
// json.Unmarshal does. Anything else (whitespace, nested values, other keys,
// invalid UTF-8, malformed text) makes it give up, and decodeEvent reads the text with
// encoding/json instead, which accepts any JSON and says what is wrong.

// eventReader walks the JSON text of one event.
type eventReader struct {
	s string
	i int
}

// readEvent reads an event in the library's shape; ok is false when the text has
// another shape (then nothing about the text is claimed).
func readEvent(text string) (e Event, ok bool) {
	if e, ok = readPlain(text); ok {
		return withMaps(e), true
	}
	if !utf8.ValidString(text) {
		return Event{}, false
	}
	if e, ok = readLaidOut(text); ok {
		return withMaps(e), true
	}
	walkedEvents.Add(1)
	e = Event{}
	r := eventReader{s: text}
	ok = r.object(func(key string) bool {
		switch key {
		case "type":
			return r.null() || r.text(&e.Type)
		case "name":
			return r.null() || r.text(&e.Name)
		case "target":
			return r.text(&e.Target)
		case "field":
			return r.text(&e.Field)
		case "key":
			return r.text(&e.Key)
		case "values":
			return r.values(&e)
		case "form":
			return r.form(&e)
		case "meta":
			return r.null() || r.object(func(name string) bool {
				switch name {
				case "shift":
					return r.flag(&e.Meta.Shift)
				case "ctrl":
					return r.flag(&e.Meta.Ctrl)
				case "alt":
					return r.flag(&e.Meta.Alt)
				case "meta":
					return r.flag(&e.Meta.Meta)
				}
				return false
			})
		}
		// encoding/json matches keys regardless of case ("Name" is name): leave
		// any other key to it.
		return false
	})
	if !ok || r.i != len(r.s) {
		return Event{}, false
	}
	return withMaps(e), true
}

// readLaidOut reads an event in the layout the library writes (src/protocol:
// Event::write_json): every key, in that order, compact. It reads what the key by
// key walk of readEvent reads from such a text, without reading each key and
// matching it; ok is false for any other text.
func readLaidOut(text string) (e Event, ok bool) {
	r := eventReader{s: text}
	ok = r.literal(`{"type":`) && r.text(&e.Type) &&
		r.literal(`,"name":`) && r.text(&e.Name) &&
		r.literal(`,"target":`) && r.text(&e.Target) &&
		r.literal(`,"values":`) && r.values(&e) &&
		r.literal(`,"form":`) && r.form(&e) &&
		r.literal(`,"field":`) && r.text(&e.Field) &&
		r.literal(`,"key":`) && r.text(&e.Key) &&
		r.literal(`,"meta":{"shift":`) && r.flag(&e.Meta.Shift) &&
		r.literal(`,"ctrl":`) && r.flag(&e.Meta.Ctrl) &&
		r.literal(`,"alt":`) && r.flag(&e.Meta.Alt) &&
		r.literal(`,"meta":`) && r.flag(&e.Meta.Meta) &&
		r.literal(`}}`) && r.i == len(r.s)
	return e, ok
}

// plainTail is what follows the name in the library's text of an event that carries
// nothing but its type and name (no target, values, form fields, field, key or
// modifier): a click on a button without data-lv-value-*, the most common event.
const plainTail = `,"target":null,"values":{},"form":{},"field":null,"key":null,` +
	`"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}`

// readPlain reads an event whose text is its type and name followed by plainTail:
// what readLaidOut reads from it, with one comparison for everything after the name.
func readPlain(text string) (e Event, ok bool) {
	r := eventReader{s: text}
	ok = r.literal(`{"type":`) && r.text(&e.Type) && r.literal(`,"name":`) && r.text(&e.Name) &&
		r.s[r.i:] == plainTail && utf8.ValidString(e.Type) && utf8.ValidString(e.Name)
	return e, ok
}

// walkedEvents counts the events readLaidOut did not take, so a test can tell that
// the library's events are read by their layout.
var walkedEvents atomic.Int64

// withMaps gives an event without values or form fields empty maps, as
// encoding/json does.
func withMaps(e Event) Event {
	if e.Values == nil {
		e.Values = map[string]string{}
	}
	if e.Form == nil {
		e.Form = url.Values{}
	}
	return e
}

// values reads the event's values: an object of scalars, or null.
func (r *eventReader) values(e *Event) bool { return readObject(r, &e.Values, r.scalar) }

// form reads the event's form fields: an object of field values, or null.
func (r *eventReader) form(e *Event) bool { return readObject(r, &e.Form, r.formValue) }

// readObject reads an object whose values read reads into *dst (made when nil), or
// null (dst becomes nil, as encoding/json leaves it).
func readObject[V any, M ~map[string]V](r *eventReader, dst *M, read func() (V, bool)) bool {
	if r.null() {
		*dst = nil
		return true
	}
	if *dst == nil {
		*dst = make(M)
	}
	return r.object(func(name string) bool {
		v, ok := read()
		(*dst)[name] = v
		return ok
	})
}

func (r *eventReader) eat(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *eventReader) literal(word string) bool {
	if strings.HasPrefix(r.s[r.i:], word) {
		r.i += len(word)
		return true
	}
	return false
}

func (r *eventReader) null() bool { return r.literal("null") }

// object reads {"key":value,...}, calling field after each key's colon; field
// reads the value.
func (r *eventReader) object(field func(key string) bool) bool {
	if !r.eat('{') {
		return false
	}
	if r.eat('}') {
		return true
	}
	for {
		key, ok := r.str()
		if !ok || !r.eat(':') || !field(key) {
			return false
		}
		if !r.eat(',') {
			return r.eat('}')
		}
	}
}

// str reads a JSON string. One with escapes is rare (a quote or a newline in a
// value) and is decoded by encoding/json.
func (r *eventReader) str() (string, bool) {
	if !r.eat('"') {
		return "", false
	}
	start, escaped := r.i, false
	for r.i < len(r.s) {
		switch c := r.s[r.i]; {
		case c == '"':
			r.i++
			if !escaped {
				return r.s[start : r.i-1], true
			}
			var out string
			if json.Unmarshal([]byte(r.s[start-1:r.i]), &out) != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			escaped = true
			r.i += 2
		case c < 0x20:
			return "", false
		default:
			r.i++
		}
	}
	return "", false
}

// text reads a string or null (as "") into dst. (A null type or name leaves the
// field as it was, as encoding/json does for a string field; callers check that.)
func (r *eventReader) text(dst *string) bool {
	if r.null() {
		*dst = ""
		return true
	}
	s, ok := r.str()
	*dst = s
	return ok
}

// flag reads a boolean or null (leaving dst as it was, like encoding/json).
func (r *eventReader) flag(dst *bool) bool {
	switch {
	case r.literal("true"):
		*dst = true
	case r.literal("false"):
		*dst = false
	default:
		return r.null()
	}
	return true
}

// scalar reads a string, null, boolean or number as its text: a string's content,
// "" for null, and the JSON text of the others (what jsonText gives).
func (r *eventReader) scalar() (string, bool) {
	if r.i < len(r.s) && r.s[r.i] == '"' {
		return r.str()
	}
	switch {
	case r.null():
		return "", true
	case r.literal("true"):
		return "true", true
	case r.literal("false"):
		return "false", true
	}
	return r.number()
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *eventReader) number() (string, bool) {
	start := r.i
	r.eat('-')
	if !r.eat('0') && !r.digits() {
		return "", false
	}
	if r.eat('.') && !r.digits() {
		return "", false
	}
	if r.eat('e') || r.eat('E') {
		if !r.eat('+') {
			r.eat('-')
		}
		if !r.digits() {
			return "", false
		}
	}
	return r.s[start:r.i], true
}

// digits reads one or more decimal digits.
func (r *eventReader) digits() bool {
	start := r.i
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// formValue reads a form field: an array of scalars, null (no values), or one
// scalar.
func (r *eventReader) formValue() ([]string, bool) {
	if r.null() {
		return []string{}, true
	}
	if !r.eat('[') {
		v, ok := r.scalar()
		return []string{v}, ok
	}
	vs := []string{}
	if r.eat(']') {
		return vs, true
	}
	for {
		v, ok := r.scalar()
		if !ok {
			return nil, false
		}
		vs = append(vs, v)
		if !r.eat(',') {
			return vs, r.eat(']')
		}
	}
}
