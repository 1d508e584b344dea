module mizulive.example/bench-peers

go 1.23

require github.com/mizulive/mizulive/bindings/go v0.0.0

replace github.com/mizulive/mizulive/bindings/go => ../../../../bindings/go
