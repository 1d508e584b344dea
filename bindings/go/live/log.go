package live

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"log/slog"
)

// SetLogger sends libmizulive's own log records (filtered by $MIZULIVE_LOG,
// default "info") to l instead of stderr; nil restores stderr. It is
// process-wide: the library has one log sink for all apps. Each record carries
// the library module as "target". A replaced logger may still receive the records
// queued before the call.
func SetLogger(l *slog.Logger) error {
	if l == nil {
		return callC(func() C.int { return C.lv_set_log_callback(nil, nil, nil) })
	}
	h := newHandle(&logSink{l: l})
	err := callC(func() C.int { return C.lvgo_set_log(C.uintptr_t(h)) })
	if err != nil {
		deleteHandle(h)
	}
	return err
}

type logSink struct{ l *slog.Logger }

// levels maps the library's levels (1 error .. 5 trace) to slog's.
var levels = [...]slog.Level{1: slog.LevelError, 2: slog.LevelWarn, 3: slog.LevelInfo, 4: slog.LevelDebug, 5: slog.LevelDebug - 4}

func (s *logSink) log(level int, target, message string) {
	lvl := slog.LevelInfo
	if level > 0 && level < len(levels) {
		lvl = levels[level]
	}
	s.l.Log(context.Background(), lvl, message, "target", target)
}
