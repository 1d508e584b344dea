package live

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// The library's own log records (a server listening, a client dropped, a callback
// that failed) go to log/slog: by default to slog.Default(), looked up at each
// record, so a later slog.SetDefault is followed. SetLogger chooses another
// logger. The library filters by $MIZULIVE_LOG first (default "info"); the
// logger's handler filters again.

var (
	logMu sync.Mutex
	// logChosen is set once the library's log sink is this package's: by the first
	// New, or by SetLogger.
	logChosen bool
)

// SetLogger sends libmizulive's own log records to l; nil means slog.Default()
// (the default). It is process-wide: the library has one log sink for all apps.
// Each record carries the library module as "target", and the session id as
// "session" and the route as "route" when the library names them; levels map to
// slog's (trace is slog.LevelDebug-4). A replaced logger may still receive the
// records queued before the call.
func SetLogger(l *slog.Logger) error {
	logMu.Lock()
	defer logMu.Unlock()
	logChosen = true
	return installLogSink(&logSink{l: l})
}

// defaultLogs routes the library's records to slog, once, unless SetLogger
// already did: New calls it.
func defaultLogs() {
	logMu.Lock()
	defer logMu.Unlock()
	if logChosen {
		return
	}
	if installLogSink(&logSink{}) == nil {
		logChosen = true
	}
}

func installLogSink(s *logSink) error {
	h := newHandle(s)
	err := callC(func() C.int { return C.lvgo_set_log(C.uintptr_t(h)) })
	if err != nil {
		deleteHandle(h)
	}
	return err
}

// logSink is one installed sink; l nil means slog.Default() at each record.
type logSink struct{ l *slog.Logger }

// levels maps the library's levels (1 error .. 5 trace) to slog's.
var levels = [...]slog.Level{1: slog.LevelError, 2: slog.LevelWarn, 3: slog.LevelInfo, 4: slog.LevelDebug, 5: slog.LevelDebug - 4}

func (s *logSink) log(level int, target, message string) {
	l := s.l
	if l == nil {
		l = slog.Default()
	}
	lvl := slog.LevelInfo
	if level > 0 && level < len(levels) {
		lvl = levels[level]
	}
	ctx := context.Background()
	if !l.Enabled(ctx, lvl) {
		return
	}
	message, attrs := logFields(message)
	attrs = append(attrs, slog.String("target", target))
	l.LogAttrs(ctx, lvl, message, attrs...)
}

// logFields takes the fields the library appends to a record's message as
// " key=value" (session ids, routes) off its end, as attributes.
func logFields(message string) (string, []slog.Attr) {
	var attrs []slog.Attr
	for {
		sp := strings.LastIndexByte(message, ' ')
		if sp < 0 {
			return message, attrs
		}
		key, value, ok := strings.Cut(message[sp+1:], "=")
		if !ok || value == "" || (key != "session" && key != "route") {
			return message, attrs
		}
		attrs = append(attrs, slog.String(key, value))
		message = message[:sp]
	}
}
