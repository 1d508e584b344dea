// Package headless connects package livetest to the library's test client
// (lv_test_* in mizulive.h), which package live reaches through cgo: live sets
// Open in its init, livetest calls it, and neither imports the other's cgo.
package headless

import "time"

// Client is one lv_test client. Every error is a *live.Error with the library's
// code and message. A "" selector of HTML means the whole document.
type Client interface {
	Visit(path string) error
	Click(selector string) error
	Focus(selector string) error
	Blur(selector string) error
	Submit(selector string, fieldsJSON []byte) error
	Change(selector, value string) error
	Key(selector, eventType, key string) error
	Event(eventJSON []byte) error
	NextPush(timeout time.Duration) (string, error)
	RefutePush(within time.Duration) error
	HTML(selector string) (string, error)
	Text(selector string) (string, error)
	Region(id string) (string, error)
	Title() (string, error)
	Path() (string, error)
	State() (string, error)
	Flash() (string, error)
	// Reply is the answer to the last event as JSON: {"ok":true}, or
	// {"ok":false,"error":{"code":..,"message":..}}.
	Reply() (string, error)
	// Close releases the client; later calls fail with ErrState. Idempotent.
	Close()
}

// Open opens path of app (a *live.App) with the options as JSON (nil for
// none). Set by package live.
var Open func(app any, path string, optionsJSON []byte) (Client, error)
