package live_test

import (
	"reflect"
	"testing"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// Events as the library writes them: the fast reader must take each of them and
// read what encoding/json reads.
var libraryEvents = []string{
	`{"type":"click","name":"inc","target":null,"values":{},"form":{},"field":null,"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}`,
	`{"type":"click","name":"bump","target":null,"values":{"row":"17"},"form":{},"field":null,"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}`,
	`{"type":"submit","name":"save","target":"cart","values":{"by":" 4 ","raw":12,"f":-1.5e+3,"t":true,"n":null},"form":{"tags":["a","b"],"check":[],"one":"x","none":null},"field":"title","key":"Enter","meta":{"shift":true,"ctrl":false,"alt":true,"meta":false}}`,
	`{"type":"change","name":"q","target":null,"values":{},"form":{"q":["say \"hi\"\nnow \\ \u00e9 \ud83d\ude00"]},"field":"q","key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}`,
	`{"type":"keyup","name":"k","target":null,"values":{"été":"日本"},"form":{},"field":null,"key":"ArrowDown","meta":{"shift":false,"ctrl":true,"alt":false,"meta":true}}`,
}

func TestReadEventTakesWhatTheLibraryWrites(t *testing.T) {
	walked := live.WalkedEvents()
	for _, text := range libraryEvents {
		got, ok := live.ReadEvent(text)
		if !ok {
			t.Fatalf("the fast reader gave up on %s", text)
		}
		want, err := live.UnmarshalEvent(text)
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\nfast:    %#v\nreflect: %#v", text, got, want)
		}
	}
	if n := live.WalkedEvents() - walked; n != 0 {
		t.Fatalf("%d of the library's events were not read by its layout", n)
	}
	// A click with nothing but its name is read with one comparison after the name;
	// a click with a value is not.
	if !live.ReadPlain(libraryEvents[0]) || live.ReadPlain(libraryEvents[1]) {
		t.Fatalf("plain: %v and %v, want true and false", live.ReadPlain(libraryEvents[0]), live.ReadPlain(libraryEvents[1]))
	}
	e, _ := live.ReadEvent(libraryEvents[3])
	if v := e.Get("q"); v != "say \"hi\"\nnow \\ é 😀" {
		t.Fatalf("escapes: %q", v)
	}
}

// Other shapes make the fast reader give up (encoding/json then reads or refuses
// them), or it reads them as encoding/json does: never a different event.
func TestReadEventNeverDisagrees(t *testing.T) {
	for _, text := range otherEvents {
		checkAgreement(t, text)
	}
}

var otherEvents = []string{
	``, `{}`, `null`, `[]`, `{"type":5}`, `{"type":null,"name":null}`, `{"type":"a","type":"b"}`,
	`{"values":null}`, `{"values":{"a":"1"},"values":null}`, `{"values":{"a":"1"},"values":{"b":"2"}}`,
	`{"values":{"a":{"b":1}}}`, `{"values":{"a":[1]}}`, `{"form":{"a":[["x"]]}}`, `{"form":{"a":[null,true,2]}}`,
	`{"form":5}`, `{"meta":null}`, `{"meta":{"shift":1}}`, `{"meta":{"shift":null,"other":"x"}}`,
	`{"other":{"deep":[1,2]}}`, `{"other":"x"}`, `{"other":01}`, `{"values":{"a":1.}}`, `{"values":{"a":-}}`,
	`{"values":{"a":1e}}`, `{"values":{"a":tru}}`, `{"name":"a"}x`, `{"name":"a"`, `{"name":"a\"}`,
	`{"name":"\u00"}`, "{\"name\":\"a\tb\"}", "{\"name\":\"\xff\"}", ` {"name":"a"}`, `{"name" :"a"}`,
	`{"name":"a",}`, `{,}`, `{"values":{"a":"1",}}`, `{"form":{"a":["x",]}}`, `{"values":{"x":"\ud800"}}`,
	// Type and name followed by the tail of an event that carries nothing else.
	"{\"type\":\"click\",\"name\":\"\xff\"" + plainTail, "{\"type\":\"\xfe\",\"name\":\"a\"" + plainTail,
	`{"type":"click","name":"\x41"` + plainTail,
	`{"type":null,"name":"a"` + plainTail, `{"type":"click","name":null` + plainTail,
	`{"type":"click","name":"a\"b\u00e9"` + plainTail, `{"type":"click","name":""` + plainTail,
	`{"type":"click","name":"a"` + plainTail + ` `, `{"type":"click","name":"a"` + plainTail[:len(plainTail)-1],
}

// plainTail is what the library writes after the name of an event that carries
// nothing but its type and name.
const plainTail = `,"target":null,"values":{},"form":{},"field":null,"key":null,` +
	`"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}`

func checkAgreement(t *testing.T, text string) {
	t.Helper()
	got, ok := live.ReadEvent(text)
	if !ok {
		return
	}
	want, err := live.UnmarshalEvent(text)
	if err != nil {
		t.Fatalf("the fast reader took %q, which encoding/json refuses: %v", text, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q\nfast:    %#v\nreflect: %#v", text, got, want)
	}
}

// go test -fuzz=FuzzReadEvent ./live/ looks further; plain go test runs the seeds.
func FuzzReadEvent(f *testing.F) {
	for _, text := range append(append([]string{}, libraryEvents...), otherEvents...) {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkAgreement(t, text)
	})
}
