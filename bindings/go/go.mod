module github.com/mizulive/mizulive/bindings/go

go 1.23

require github.com/coder/websocket v1.8.14
