#!/usr/bin/env bash
# The whole test suite, as CI runs it: Rust formatting and lints, unit tests, the
# simulator's tests and the end-to-end tests (plugin over gRPC, simulator, a real
# Prometheus), the Grafana conformance host (Go), then the frontend's typecheck, lint, unit
# tests and browser test.
# Needs: cargo, go, node/npm (with `npm ci` done in frontend/), Debian's prometheus and chromium.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test (unit, simulator, end-to-end)"
cargo test --workspace --locked

step "Grafana conformance host (tests/grafana-host, Go): vet, gofmt, go test"
(
  cd tests/grafana-host
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH=$PATH:/usr/local/go/bin; fi
  command -v go >/dev/null || { echo "test.sh: tests/grafana-host needs Go 1.26.5 or newer on PATH" >&2; exit 1; }
  go vet -mod=readonly ./...
  unformatted=$(gofmt -l .)
  [ -z "$unformatted" ] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
  # It judges AWX_PLUGIN_BINARY if set, else dist/gpx_awx_linux_amd64 (scripts/package.sh
  # --backend, as .ci/run makes it), else the debug build above; awx-sim from
  # ${AWX_E2E_BIN_DIR:-target/debug}. go test shows a passing package's output only with -v,
  # so the host also writes its summary line to a file.
  summary=$(mktemp)
  trap 'rm -f "$summary"' EXIT
  GRAFANA_HOST_SUMMARY=$summary go test -mod=readonly -count=1 -timeout 10m ./...
  cat "$summary"
)

step "frontend: typecheck, lint, unit tests, browser test"
cd frontend
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm test
npm run test:browser
