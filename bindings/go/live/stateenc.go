package live

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// marshalState writes v as JSON, byte for byte as json.Marshal would. A state is
// written after every callback, and json.Marshal's general path cost a small state
// more than the rest of the binding's work per event: a state type made of
// booleans, integers, strings, and slices, arrays, pointers and structs of those
// gets an encoder built once for its type; any other type (floats, maps,
// interfaces, embedded fields, custom marshalers, tag options other than
// omitempty) is written by json.Marshal.
func marshalState[T any](v *T) ([]byte, error) {
	return marshalWith(encoderFor(reflect.TypeFor[T]()), v)
}

// marshalWith is marshalState with T's encoder looked up already (encoderFor).
func marshalWith[T any](enc encodeFn, v *T) ([]byte, error) {
	if enc == nil {
		return json.Marshal(*v)
	}
	return enc(make([]byte, 0, 64), reflect.ValueOf(v).Elem()), nil
}

// encodeFn appends the JSON of v to buf.
type encodeFn func(buf []byte, v reflect.Value) []byte

// encoders holds each type's encoder, or nil for a type json.Marshal writes.
var encoders sync.Map // reflect.Type -> encodeFn

func encoderFor(t reflect.Type) encodeFn {
	if e, ok := encoders.Load(t); ok {
		return e.(encodeFn)
	}
	enc := buildEncoder(t, map[reflect.Type]bool{})
	encoders.Store(t, enc)
	return enc
}

// buildEncoder returns nil for a type it does not cover exactly as json.Marshal
// does. seen holds the struct types being built, so a recursive type gets none.
func buildEncoder(t reflect.Type, seen map[reflect.Type]bool) encodeFn {
	for _, m := range []reflect.Type{jsonMarshaler, textMarshaler} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return nil
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendBool(buf, v.Bool()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendInt(buf, v.Int(), 10) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendUint(buf, v.Uint(), 10) }
	case reflect.String:
		return func(buf []byte, v reflect.Value) []byte { return appendString(buf, v.String()) }
	case reflect.Pointer:
		elem := buildEncoder(t.Elem(), seen)
		if elem == nil {
			return nil
		}
		return func(buf []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return append(buf, "null"...)
			}
			return elem(buf, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64, [N]byte an array of numbers: left to json
		}
		elem := buildEncoder(t.Elem(), seen)
		if elem == nil {
			return nil
		}
		slice := t.Kind() == reflect.Slice
		return func(buf []byte, v reflect.Value) []byte {
			if slice && v.IsNil() {
				return append(buf, "null"...)
			}
			buf = append(buf, '[')
			for i := 0; i < v.Len(); i++ {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = elem(buf, v.Index(i))
			}
			return append(buf, ']')
		}
	case reflect.Struct:
		return structEncoder(t, seen)
	}
	return nil
}

// field is one struct field as json.Marshal writes it.
type field struct {
	index     int
	key       string // `"name":`
	omitEmpty bool
	enc       encodeFn
}

func structEncoder(t reflect.Type, seen map[reflect.Type]bool) encodeFn {
	if seen[t] {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	var fields []field
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return nil // embedded fields: json's promotion rules
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omitEmpty := false
		switch opts {
		case "":
		case "omitempty":
			omitEmpty = true
		default:
			return nil // ",string", "omitzero", "-," and the like
		}
		if name == "" {
			name = f.Name
		} else if !plainKey(name) {
			return nil
		}
		if names[name] {
			return nil // json drops both of two fields of one name
		}
		names[name] = true
		enc := buildEncoder(f.Type, seen)
		if enc == nil {
			return nil
		}
		fields = append(fields, field{index: i, key: strconv.Quote(name) + ":", omitEmpty: omitEmpty, enc: enc})
	}
	return func(buf []byte, v reflect.Value) []byte {
		buf = append(buf, '{')
		first := true
		for _, f := range fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, f.key...)
			buf = f.enc(buf, fv)
		}
		return append(buf, '}')
	}
}

// plainKey reports whether json.Marshal writes a tag's name as it is: letters,
// digits, '_' and '-' only (json accepts more, and escapes some of them).
func plainKey(name string) bool {
	for _, r := range name {
		if !(r == '_' || r == '-' || r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}

// isEmpty is omitempty's test, for the kinds an encoder is built for.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.String, reflect.Slice, reflect.Array:
		return v.Len() == 0
	case reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// appendString writes s quoted. A string of printable ASCII without '"', '\\',
// '<', '>' and '&', or of valid UTF-8 without U+2028 and U+2029 beyond that, is
// written as it is; json.Marshal escapes the rest.
func appendString(buf []byte, s string) []byte {
	// One table load per byte, the classes of all of them or-ed together.
	var class uint8
	for i := 0; i < len(s); i++ {
		class |= stringClass[s[i]]
	}
	plain := class&escaped == 0
	if plain && class&wide != 0 {
		plain = utf8.ValidString(s) && !strings.ContainsAny(s, "\u2028\u2029")
	}
	if !plain {
		quoted, _ := json.Marshal(s) // a string always encodes
		return append(buf, quoted...)
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// The classes of a string's bytes for appendString.
const (
	escaped = 1 << iota // a byte json.Marshal escapes
	wide                // part of a character beyond ASCII
)

var stringClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = wide
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			t[c] = escaped
		}
	}
	return t
}()
