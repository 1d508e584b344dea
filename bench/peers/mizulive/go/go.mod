module mizulive.example/bench-peers

go 1.23

require github.com/mizulive/mizulive/bindings/go v0.0.0

require github.com/coder/websocket v1.8.14 // indirect

replace github.com/mizulive/mizulive/bindings/go => ../../../../bindings/go
