#!/usr/bin/env bash
# The whole test suite, as CI runs it: Rust formatting and lints, unit tests, the
# simulator's tests and the end-to-end tests (plugin over gRPC, simulator, a real
# Prometheus), then the frontend's typecheck, lint, unit tests and browser test.
# Needs: cargo, node/npm (with `npm ci` done in frontend/), Debian's prometheus and chromium.
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

step "frontend: typecheck, lint, unit tests, browser test"
cd frontend
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm test
npm run test:browser
