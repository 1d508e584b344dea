//go:build cgo

package live

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// Event is a browser event (or a form post with JavaScript off), as
// docs/protocol.md describes it.
type Event struct {
	// Type is the DOM event kind: "click", "submit", "change", "keyup", "keydown",
	// "focus" or "blur".
	Type string
	// Name is the value of the element's data-lv-<type> attribute: "inc" for
	// data-lv-click="inc".
	Name string
	// Target is data-lv-target on the element or an ancestor, or "".
	Target string
	// Values holds every data-lv-value-* attribute: data-lv-value-by="1" gives
	// Values["by"] == "1".
	Values map[string]string
	// Form holds the form's fields for submit and change events.
	Form url.Values
	// Field names the field that changed, for change events.
	Field string
	// Key is KeyboardEvent.key for keyup and keydown, else "".
	Key string
	// Meta tells which modifier keys were held.
	Meta KeyMeta
}

// KeyMeta tells which modifier keys were held during an event.
type KeyMeta struct {
	Shift, Ctrl, Alt, Meta bool
}

// Lookup returns the value named key: a data-lv-value-* first, else the first
// form value of that name.
func (e Event) Lookup(key string) (string, bool) {
	if v, ok := e.Values[key]; ok {
		return v, true
	}
	if vs, ok := e.Form[key]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// Get returns Lookup's value, or "" when there is none.
func (e Event) Get(key string) string {
	v, _ := e.Lookup(key)
	return v
}

// Text returns Get's value with surrounding whitespace removed: what a text
// field holds.
func (e Event) Text(key string) string {
	return strings.TrimSpace(e.Get(key))
}

// Strings returns every form value named key (a multi-select gives several), or the
// data-lv-value-* of that name as a one-element slice; nil when there is none.
func (e Event) Strings(key string) []string {
	if vs, ok := e.Form[key]; ok {
		return vs
	}
	if v, ok := e.Values[key]; ok {
		return []string{v}
	}
	return nil
}

// Int parses the value named key as a decimal integer (surrounding spaces allowed).
// It fails when the value is missing or not an integer.
func (e Event) Int(key string) (int, error) {
	v, ok := e.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("live: event %q has no value %q", e.Name, key)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("live: event %q: value %q=%q is not an integer", e.Name, key, v)
	}
	return n, nil
}

// Float parses the value named key as a number.
func (e Event) Float(key string) (float64, error) {
	v, ok := e.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("live: event %q has no value %q", e.Name, key)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("live: event %q: value %q=%q is not a number", e.Name, key, v)
	}
	return f, nil
}

// Bool reports whether the value named key is set and true: "on" (a checked
// checkbox), "yes", or anything strconv.ParseBool accepts as true. A missing value
// (an unchecked checkbox sends none) is false.
func (e Event) Bool(key string) bool {
	v, ok := e.Lookup(key)
	if !ok {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "yes":
		return true
	}
	b, _ := strconv.ParseBool(strings.TrimSpace(v))
	return b
}

// wireEvent is the event JSON the library hands to on_event. Values and form
// entries are strings from a browser, but any JSON is accepted and kept as text.
type wireEvent struct {
	Type   string                     `json:"type"`
	Name   string                     `json:"name"`
	Target *string                    `json:"target"`
	Values map[string]json.RawMessage `json:"values"`
	Form   map[string]json.RawMessage `json:"form"`
	Field  *string                    `json:"field"`
	Key    *string                    `json:"key"`
	Meta   struct {
		Shift bool `json:"shift"`
		Ctrl  bool `json:"ctrl"`
		Alt   bool `json:"alt"`
		Meta  bool `json:"meta"`
	} `json:"meta"`
}

// decodeEvent reads the event JSON the library hands to on_event.
func decodeEvent(text string) (Event, error) {
	if e, ok := readEvent(text); ok {
		return e, nil
	}
	slowEvents.Add(1)
	return unmarshalEvent(text)
}

// slowEvents counts the events readEvent left to encoding/json, so a test can tell
// that the library's events take the fast path.
var slowEvents atomic.Int64

// unmarshalEvent reads any event JSON with encoding/json: the general path behind
// readEvent, and the one that explains malformed text.
func unmarshalEvent(text string) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(text), &w); err != nil {
		return Event{}, fmt.Errorf("live: decoding the event: %w", err)
	}
	e := Event{
		Type:   w.Type,
		Name:   w.Name,
		Target: deref(w.Target),
		Field:  deref(w.Field),
		Key:    deref(w.Key),
		Meta:   KeyMeta{Shift: w.Meta.Shift, Ctrl: w.Meta.Ctrl, Alt: w.Meta.Alt, Meta: w.Meta.Meta},
		Values: make(map[string]string, len(w.Values)),
		Form:   make(url.Values, len(w.Form)),
	}
	for k, raw := range w.Values {
		e.Values[k] = jsonText(raw)
	}
	for k, raw := range w.Form {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			vs := make([]string, len(items))
			for i, item := range items {
				vs[i] = jsonText(item)
			}
			e.Form[k] = vs
		} else {
			e.Form[k] = []string{jsonText(raw)}
		}
	}
	return e, nil
}

// jsonText is a JSON string's content, "" for null, and any other value's JSON text.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// LaggedTopic is the topic of the message a session gets in place of publishes its
// full mailbox could not take; its data is {"missed": N}. Reload what was missed.
const LaggedTopic = "mizulive:lagged"

// Message is what Info receives: a message published on a subscribed topic, or the
// payload of a timer set with Ctx.SendAfter.
type Message struct {
	// Topic names the topic it was published on; "" for a timer.
	Topic string
	// Data is the published value as JSON.
	Data json.RawMessage
}

// IsTimer reports whether the message is a timer's payload.
func (m Message) IsTimer() bool { return m.Topic == "" }

// Decode unmarshals the message's JSON into v.
func (m Message) Decode(v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("live: decoding a message on %q: %w", m.Topic, err)
	}
	return nil
}

// Decode unmarshals a message's JSON into a new V:
//
//	note, err := live.Decode[Note](msg)
func Decode[V any](m Message) (V, error) {
	var v V
	err := m.Decode(&v)
	return v, err
}
