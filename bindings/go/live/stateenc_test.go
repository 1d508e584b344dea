package live

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
)

type encItem struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done,omitempty"`
	Note  *string
	Tags  []string `json:"tags"`
}

// Every kind and tag the encoder covers (and no unexported field: quick cannot set one).
type encWide struct {
	Count   int
	Small   int8      `json:"small"`
	Big     uint64    `json:"big,omitempty"`
	Name    string    `json:"name,omitempty"`
	Items   []encItem `json:"items"`
	Grid    [3][2]int16
	Next    *encItem `json:"next"`
	Skipped string   `json:"-"`
	Dash    string   `json:"-,"` // the key "-"
	Flags   []bool   `json:",omitempty"`
	Numbers []uint   `json:"numbers,omitempty"`
	U16     uint16
}

type encHidden struct {
	Shown  int
	hidden int
}

type encOddKey struct {
	N int `json:"odd key"`
}

// A state whose encoder is built: what the fast path must write exactly as json does.
type encCovered struct {
	Count int    `json:"count"`
	Bc    int64  `json:"bc"`
	Label string `json:"label,omitempty"`
	Rows  []int  `json:"rows"`
	Items []encItem
	Ptr   *int `json:"ptr,omitempty"`
	Inner struct {
		On  bool
		Who string `json:"who"`
	} `json:"inner"`
}

type encCustom struct{ N int }

func (c encCustom) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

type encEmbedded struct {
	encItem
	Extra int
}

type encRecursive struct {
	Name string
	Next *encRecursive `json:"next,omitempty"`
}

type encFloat struct{ F float64 }

type encMap struct{ M map[string]int }

// Two fields of one name: the tagged one wins in json.
type encTwice struct {
	A int `json:"X"`
	X int
}

type encStringOpt struct {
	N int `json:"n,string"`
}

// checkSame fails unless marshalState writes v exactly as json.Marshal does.
func checkSame[T any](t *testing.T, v T) bool {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := marshalState(&v)
	if (wantErr == nil) != (gotErr == nil) || !bytes.Equal(got, want) {
		t.Errorf("%T %+v:\n got %s (%v)\nwant %s (%v)", v, v, got, gotErr, want, wantErr)
		return false
	}
	return true
}

func TestMarshalStateWritesWhatJSONWrites(t *testing.T) {
	config := &quick.Config{MaxCount: 300, Rand: rand.New(rand.NewSource(1))}
	if err := quick.Check(func(v encWide) bool { return checkSame(t, v) }, config); err != nil {
		t.Error(err)
	}
	if err := quick.Check(func(v encCovered) bool { return checkSame(t, v) }, config); err != nil {
		t.Error(err)
	}
	if err := quick.Check(func(v []encItem) bool { return checkSame(t, v) }, config); err != nil {
		t.Error(err)
	}
	if err := quick.Check(func(s string) bool { return checkSame(t, s) }, config); err != nil {
		t.Error(err)
	}
	// Strings json escapes: quotes, controls, HTML, line separators, bad UTF-8.
	for _, s := range []string{
		"", "plain", `say "hi"`, `back\slash`, "tab\tnew\nline\x00", "<b>&amp;</b>", "日本語",
		"sep\u2028par\u2029", "bad \xff utf-8", "\x7f del", "emoji 🎉",
	} {
		checkSame(t, s)
		checkSame(t, encItem{Title: s, Tags: []string{s, ""}, Note: &s})
	}
	// Empty and nil: omitempty, null slices and pointers.
	checkSame(t, encWide{})
	checkSame(t, encHidden{Shown: 1, hidden: 2})
	checkSame(t, encCovered{})
	checkSame(t, encCovered{Rows: []int{}, Items: []encItem{{}}})
	checkSame[*encCovered](t, nil)
	checkSame(t, &encCovered{Count: -1})
	// Types json writes its own way, left to it.
	checkSame(t, encCustom{N: 3})
	checkSame(t, []encCustom{{N: 1}})
	checkSame(t, encEmbedded{encItem: encItem{ID: 7}, Extra: 1})
	checkSame(t, encRecursive{Name: "a", Next: &encRecursive{Name: "b"}})
	checkSame(t, encFloat{F: 1e21})
	checkSame(t, encMap{M: map[string]int{"b": 1, "a": 2}})
	checkSame(t, encTwice{A: 1, X: 2})
	checkSame(t, encOddKey{N: 1})
	checkSame(t, encStringOpt{N: 5})
	checkSame(t, []byte("bytes"))
	checkSame(t, map[string]any{"count": 1})
}

func TestMarshalStateBuildsEncodersOnlyForTypesItCovers(t *testing.T) {
	covered := []any{encCovered{}, encWide{}, encHidden{}, encItem{}, []encItem{}, [2]int{}, new(int), ""}
	for _, v := range covered {
		if encoderFor(reflect.TypeOf(v)) == nil {
			t.Errorf("%T: no encoder built", v)
		}
	}
	left := []any{
		encOddKey{}, encCustom{}, encEmbedded{}, encRecursive{}, encFloat{}, encMap{}, encTwice{},
		encStringOpt{}, []byte{}, map[string]any{}, new(any),
	}
	for _, v := range left {
		if encoderFor(reflect.TypeOf(v)) != nil {
			t.Errorf("%T: an encoder was built for a type json writes its own way", v)
		}
	}
}

func BenchmarkMarshalState(b *testing.B) {
	type counter struct {
		Count int   `json:"count"`
		Bc    int64 `json:"bc"`
	}
	v := counter{Count: 12345, Bc: 67}
	b.Run("json.Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshalState", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := marshalState(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
