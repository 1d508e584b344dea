//go:build cgo

package live

import "fmt"

// Code is a libmizulive status code. Each code is also an error, so callers can
// test for a kind of failure with errors.Is(err, live.ErrNotFound).
type Code int

// The library's status codes (LV_ERR_* in mizulive.h).
const (
	ErrNull      Code = 1  // a required argument was missing
	ErrUTF8      Code = 2  // a string was not valid UTF-8 (or held a NUL byte)
	ErrJSON      Code = 3  // JSON did not parse, or did not fit the state
	ErrConfig    Code = 4  // the options are unusable
	ErrPage      Code = 5  // a route, template name or region map is unusable
	ErrTemplate  Code = 6  // a template failed to load or render
	ErrIO        Code = 7  // binding or serving failed
	ErrState     Code = 8  // the call does not fit the app's or context's state
	ErrNotFound  Code = 9  // no such region, timer or value
	ErrCallback  Code = 10 // a callback failed
	ErrReentrant Code = 11 // not allowed from inside a callback
	ErrTimeout   Code = 12 // a wait timed out
	ErrBuffer    Code = 13 // an output buffer was too small
	ErrBusy      Code = 14 // a limit is reached; retrying later may succeed
	ErrRequest   Code = 15 // a request handed in by the host's server is malformed
	ErrPointer   Code = 16 // a JSON pointer into the state is malformed or does not fit it
	ErrPanic     Code = 99 // a bug in libmizulive, caught at its boundary
)

var codeNames = map[Code]string{
	ErrNull: "null argument", ErrUTF8: "invalid UTF-8", ErrJSON: "bad JSON", ErrConfig: "bad options",
	ErrPage: "bad page", ErrTemplate: "template error", ErrIO: "I/O error", ErrState: "wrong state",
	ErrNotFound: "not found", ErrCallback: "callback failed", ErrReentrant: "called from a callback",
	ErrTimeout: "timed out", ErrBuffer: "buffer too small", ErrBusy: "busy", ErrRequest: "bad request", ErrPointer: "bad state pointer", ErrPanic: "libmizulive panicked",
}

func (c Code) Error() string {
	if name, ok := codeNames[c]; ok {
		return "mizulive: " + name
	}
	return fmt.Sprintf("mizulive: status %d", int(c))
}

// Error is a failed libmizulive call: its status and the library's message.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Error()
	}
	return "mizulive: " + e.Message
}

// Unwrap lets errors.Is match the Code.
func (e *Error) Unwrap() error { return e.Code }

// errState is the error of a Ctx used after its callback returned, or of a closed App.
func errState(msg string) error { return &Error{Code: ErrState, Message: msg} }
