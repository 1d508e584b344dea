# mizulive — the two commands a newcomer needs:
#   make demo    build the library and the Python package, serve the gallery on $MIZULIVE_ADDR (default 127.0.0.1:3000)
#   make test    lint, then every test suite (Rust, C, Python, Go, then the browser suite)
CARGO ?= cargo
export MIZULIVE_ADDR ?= 127.0.0.1:3000

.PHONY: demo demo-c feed lib examples test lint test-rust test-c-sanitize header bench clean \
	python demo-python lint-python test-python test-go go-counter go-chat e2e

demo: demo-python

demo-c: lib
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
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# Everything runs against one release build of the crate.
test: lint lint-python test-rust test-c-sanitize test-python test-go e2e

test-rust: lib
	$(CARGO) test --release

# The C ABI test programs (tests/c) and the C examples' smoke test, built with
# AddressSanitizer + UBSan and run under valgrind (tests/c/valgrind.supp).
test-c-sanitize: lib
	$(MAKE) -C tests/c sanitize
	MIZULIVE_C_SANITIZE=asan $(CARGO) test --release --test c_examples
	MIZULIVE_C_SANITIZE=valgrind $(CARGO) test --release --test c_examples

# Python: the package installed into a project-local virtualenv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUFF   := $(PY) -m ruff --config bindings/python/pyproject.toml

$(PY):
	$(PYTHON) -m venv $(VENV)

python: lib $(PY)
	$(PY) -m pip install -q --disable-pip-version-check "./bindings/python[test]" ruff

demo-python: python
	$(PY) examples-python/gallery.py

lint-python: python
	$(RUFF) check bindings/python examples-python e2e/apps/python
	$(RUFF) format --check bindings/python examples-python e2e/apps/python

test-python: python
	$(PY) -m pytest -q bindings/python/tests

# Go: the cgo package, linked statically against target/release/libmizulive.a.
test-go: lib
	test -z "$$(gofmt -l bindings/go e2e/apps/go)" || { gofmt -l bindings/go e2e/apps/go; exit 1; }
	cd e2e/apps/go && go vet ./...
	cd bindings/go && go vet ./... && GOEXPERIMENT=cgocheck2 go test -count=1 ./... && go test -race -count=1 ./live

# The real-browser suite (e2e/): the conformance app in C, Python and Go, each driven by
# Debian's Chromium. Installs chromium and playwright-core when missing.
e2e: lib python
	bash e2e/run.sh all

go-counter: lib
	cd bindings/go && go run ./examples/counter

go-chat: lib
	cd bindings/go && go run ./examples/chat

header: lib

bench: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml

clean:
	$(CARGO) clean
	$(MAKE) -C examples-c/counter clean
	$(MAKE) -C examples-c/feed clean
