# mizulive — the two commands a newcomer needs:
#   make demo    build the library and the C counter, serve it on $MIZULIVE_ADDR (default 127.0.0.1:3000)
#   make test    lint, then every test suite
CARGO ?= cargo
export MIZULIVE_ADDR ?= 127.0.0.1:3000

.PHONY: demo feed lib examples test lint test-rust header bench clean

demo: lib
	$(MAKE) -C examples-c/counter run

feed: lib
	$(MAKE) -C examples-c/feed run

lib:
	$(CARGO) build --release

examples: lib
	$(MAKE) -C examples-c/counter
	$(MAKE) -C examples-c/feed

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# Everything runs against one release build of the crate.
test: lint test-rust

test-rust: lib
	$(CARGO) test --release

header: lib

bench: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml

clean:
	$(CARGO) clean
	$(MAKE) -C examples-c/counter clean
	$(MAKE) -C examples-c/feed clean
