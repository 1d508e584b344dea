package live

// LiveHandles reports how many handles the library currently holds (pages,
// auth hooks, log sinks), so tests can check every drop ran exactly once.
func LiveHandles() int64 { return liveHandles.Load() }

// MuxPattern exposes muxPattern to the tests.
var MuxPattern = muxPattern

// ChiPattern exposes chiPattern to the tests.
var ChiPattern = chiPattern

// ReadEvent and UnmarshalEvent expose the two event decoders, so tests can check
// that they agree.
func ReadEvent(text string) (Event, bool) { return readEvent(text) }

// ReadPlain tells whether an event's text takes readPlain's one comparison.
func ReadPlain(text string) bool { _, ok := readPlain(text); return ok }

func UnmarshalEvent(text string) (Event, error) { return unmarshalEvent(text) }

// SlowEvents reports how many events were read by encoding/json instead of readEvent.
func SlowEvents() int64 { return slowEvents.Load() }

// WalkedEvents reports how many events readEvent read key by key instead of by the
// library's layout.
func WalkedEvents() int64 { return walkedEvents.Load() }

// LogSinkInstalled reports whether the library's log sink is this package's yet
// (New and SetLogger install it; the first one holds a handle from then on).
func LogSinkInstalled() bool {
	logMu.Lock()
	defer logMu.Unlock()
	return logChosen
}

// Cacheable exposes cacheable to the tests.
var Cacheable = cacheable
