// Package record holds what a recording live.Ctx saw: the backend that package
// livetest reads, shared by package live (which writes it) without an import
// cycle between the two.
package record

import (
	"encoding/json"
	"sync"
	"time"
)

// Recorder is the state of one recording Ctx. Every field is guarded by Mu.
type Recorder struct {
	Mu sync.Mutex

	// What the Ctx answers.
	SessionID, UserID, BrowserID string
	Params                       map[string]string
	Browser                      map[string]json.RawMessage

	// What the callbacks asked for.
	Title           string
	TitleSet        bool
	Redirect        string
	Navigate        string
	NavigateReplace bool
	Focus           string
	Scrolled        bool
	ScrollSelector  string
	ScrollEnd       bool
	Published       []Message
	Subscriptions   []string
	Timers          []Timer
	LastTimer       uint64
	Errors          []error
}

// Message is one publish.
type Message struct {
	Topic string
	Data  json.RawMessage
}

// Timer is one pending timer.
type Timer struct {
	ID    uint64
	After time.Duration
	Data  json.RawMessage
}

// Hooks set by package live in its init: a recording Ctx is built, and a Ctx's
// or a Session's recorded effects read, through them (their types are live's).
var (
	// NewCtx returns a *live.Ctx recording into r.
	NewCtx func(r *Recorder) any
	// Of returns the Recorder of a *live.Ctx, nil for a Ctx of the library.
	Of func(ctx any) *Recorder
	// Session returns what a *live.Session[T] collected: its marks, whether it
	// marked everything, and its flash messages (kinds and messages, in order).
	Session func(s any) (marks []string, all bool, kinds, messages []string, ok bool)
)
