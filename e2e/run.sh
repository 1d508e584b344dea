#!/usr/bin/env bash
# The real-browser conformance suite: e2e/tests/ against the conformance app of each
# host (e2e/SPEC.md), in Debian's Chromium through playwright-core.
#
#   bash e2e/run.sh [c|python|go|go-embed|python-asgi|runtime|scaffold|all]     (default: all)
#
# Installs Chromium with apt-get when /usr/bin/chromium is missing, installs the npm
# dependencies, builds what each host needs, runs the suite once per host
# (E2E_HOST=<host>): tests/conformance.test.js, then tests/cluster.test.js (two nodes
# on one redis-server that the test starts on a free port, behind tests/proxy.js, one
# node killed), then the client runtime's own tests (tests/runtime.test.js, one app in
# Python: the runtime is the same for every host), and for host `scaffold` the apps
# `mizulive new` writes in C, Go and Python (generated into a temporary folder, built,
# their own `make test` run, then tests/scaffold.test.js), prints a per-host, per-scenario
# table, and fails if anything fails.
# Screenshots land in e2e/screenshots/. E2E_UPDATE_DOCS=1 also copies the C host's
# counter screenshot to docs/screenshot-counter.png.
set -uo pipefail

E2E="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin"
export DEBIAN_FRONTEND=noninteractive

want="${1:-all}"
case "$want" in
  all) hosts=(c python go go-embed python-asgi runtime scaffold) ;;
  c | python | go | go-embed | python-asgi | runtime | scaffold) hosts=("$want") ;;
  *) echo "usage: bash e2e/run.sh [c|python|go|go-embed|python-asgi|runtime|scaffold|all]" >&2; exit 2 ;;
esac

step() { printf '\n== %s\n' "$*"; }
die() { echo "e2e: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

# 1. the browser (never downloaded by playwright: Debian's package)
if [ ! -x /usr/bin/chromium ]; then
  step "installing chromium (apt-get)"
  as_root apt-get update -qq && as_root apt-get install -y -qq chromium >/dev/null ||
    die "could not install chromium"
fi
if ! command -v redis-server >/dev/null; then
  step "installing redis-server (apt-get)"
  as_root apt-get update -qq && as_root apt-get install -y -qq redis-server >/dev/null ||
    die "could not install redis-server"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  step "installing nodejs and npm (apt-get)"
  as_root apt-get update -qq && as_root apt-get install -y -qq nodejs npm >/dev/null ||
    die "could not install node"
fi

node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  die "node >= 20 is needed (playwright-core); found $(node --version)"

# 2. playwright-core (the only dependency)
step "npm dependencies"
(
  cd "$E2E" || exit 1
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
) || die "npm install failed"

# 3. builds
step "cargo build --release"
(cd "$ROOT" && cargo build --release --quiet) || die "cargo build failed"

# The scaffolds: written by the mizulive binary as a user would, built with pkg-config.
SCAFFOLDS="$(mktemp -d)"
export E2E_SCAFFOLD_DIR="$SCAFFOLDS"
scaffolds() {
  local py="$ROOT/.venv/bin/python" lang
  [ -x "$py" ] || py=python3
  export E2E_PYTHON="$py"
  for lang in c go python; do
    "$ROOT/target/release/mizulive" new app --lang "$lang" --dir "$SCAFFOLDS/$lang" \
      --go-module "$ROOT/bindings/go" >/dev/null || return 1
  done
  (
    export PKG_CONFIG_PATH="$ROOT/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    make -s -C "$SCAFFOLDS/c" && make -s -C "$SCAFFOLDS/c" test &&
      (cd "$SCAFFOLDS/go" && go build -o app . && make -s test) &&
      PYTHONPATH="$ROOT/bindings/python${PYTHONPATH:+:$PYTHONPATH}" make -s -C "$SCAFFOLDS/python" test PYTHON="$py"
  )
}

declare -A built
build() {
  case "$1" in
    c) make -s -C "$E2E/apps/c" ;;
    python | python-asgi | runtime)
      local py="$ROOT/.venv/bin/python"
      [ -x "$py" ] || py=python3
      PYTHONPATH="$ROOT/bindings/python${PYTHONPATH:+:$PYTHONPATH}" "$py" -c 'import mizulive'
      ;;
    # cgo finds libmizulive through the pkg-config files cargo build wrote.
    go | go-embed) (cd "$E2E/apps/go" && PKG_CONFIG_PATH="$ROOT/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" go build -o conformance .) ;;
    scaffold) scaffolds ;;
  esac
}
for h in "${hosts[@]}"; do
  step "build: $h"
  if build "$h"; then built[$h]=1; else built[$h]=0; echo "e2e: build for $h failed" >&2; fi
done

# 4. the suite, once per host
results="$(mktemp -d)"
trap 'rm -rf "$results" "$SCAFFOLDS"' EXIT
declare -A status
for h in "${hosts[@]}"; do
  if [ "${built[$h]}" != 1 ]; then
    status[$h]="build failed"
    continue
  fi
  step "suite: $h"
  suites=(conformance cluster)
  [ "$h" = runtime ] && suites=(runtime)
  # The embedded Go app: the whole conformance suite through its own server.
  [ "$h" = go-embed ] && suites=(conformance)
  [ "$h" = python-asgi ] && suites=(conformance)
  [ "$h" = scaffold ] && suites=(scaffold)
  status[$h]=pass
  # One file at a time, in this order (node --test would sort them and may run them
  # side by side); the table gets their rows in the same order.
  for s in "${suites[@]}"; do
    (
      cd "$E2E" &&
        E2E_HOST="$h" node --test \
          --test-reporter=spec --test-reporter-destination=stdout \
          --test-reporter=./tests/table-reporter.mjs --test-reporter-destination="$results/$h.$s.tsv" \
          "tests/$s.test.js"
    ) || status[$h]=fail
    cat "$results/$h.$s.tsv" >>"$results/$h.tsv" 2>/dev/null
  done
done

if [ "${E2E_UPDATE_DOCS:-0}" = 1 ] && [ "${status[c]:-}" = pass ] && [ -f "$E2E/screenshots/c-counter.png" ]; then
  cp "$E2E/screenshots/c-counter.png" "$ROOT/docs/screenshot-counter.png"
fi

# 5. the table: one row per scenario, one column per host
step "results"
{
  printf 'scenario'
  for h in "${hosts[@]}"; do printf '\t%s' "$h"; done
  printf '\n'
  # scenario names in the order first seen
  for h in "${hosts[@]}"; do [ -f "$results/$h.tsv" ] && cut -f2 "$results/$h.tsv"; done | awk '!seen[$0]++' |
    while IFS= read -r name; do
      printf '%s' "$name"
      for h in "${hosts[@]}"; do
        r="$(awk -F'\t' -v n="$name" '$2 == n { r = $1 } END { print r }' "$results/$h.tsv" 2>/dev/null)"
        case "$r" in pass) r=pass ;; fail) r=FAIL ;; *) r=- ;; esac
        printf '\t%s' "$r"
      done
      printf '\n'
    done
  printf 'host'
  for h in "${hosts[@]}"; do
    case "${status[$h]}" in pass) printf '\tpass' ;; fail) printf '\tFAIL' ;; *) printf '\tFAIL (%s)' "${status[$h]}" ;; esac
  done
  printf '\n'
} | awk -F'\t' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
  END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= n[r]; i++) line = line sprintf(i < n[r] ? "%-" w[i] + 2 "s" : "%s", cell[r, i]); print line } }'

rc=0
for h in "${hosts[@]}"; do [ "${status[$h]}" = pass ] || rc=1; done
exit $rc
