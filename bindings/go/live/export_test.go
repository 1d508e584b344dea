package live

// LiveHandles reports how many cgo handles the library currently holds (pages,
// auth hooks, log sinks), so tests can check every drop ran exactly once.
func LiveHandles() int64 { return liveHandles.Load() }

// MuxPattern exposes muxPattern to the tests.
var MuxPattern = muxPattern
