module mizulive.bench/jfyne-live

go 1.23.0

require github.com/jfyne/live v0.16.2

require (
	github.com/coder/websocket v1.8.13 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/rs/xid v1.6.0 // indirect
	golang.org/x/net v0.39.0 // indirect
	golang.org/x/time v0.11.0 // indirect
)
