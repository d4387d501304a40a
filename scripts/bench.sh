#!/usr/bin/env bash
# The performance benchmark (not part of the test run): the plugin against the naive
# baseline and the physical limit, AWX simulated with --workers 4 --latency-ms 30.
# Builds release binaries, then runs target/release/awx-bench; its last line is
# machine-readable (`BENCH key=value ...`). Arguments go to awx-bench, e.g. --quick
# (one cold run, no 1M jobs), --no-1m, --no-baseline, --no-prometheus.
# Needs: cargo; Debian's prometheus package (prometheus, promtool) for the Prometheus
# comparison, over a week of history backfilled with promtool (skipped without it).
# Figures and how to read them: docs/BENCHMARKS.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
cargo build --release --locked -p gpx_awx -p awx-sim -p e2e --bins
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
export AWX_E2E_BIN_DIR="$TARGET/release"
exec "$AWX_E2E_BIN_DIR/awx-bench" "$@"
