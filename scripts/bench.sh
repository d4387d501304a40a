#!/usr/bin/env bash
# The performance benchmark (not part of the test run): the plugin against the naive
# baseline and the physical limit, AWX simulated with --workers 4 --latency-ms 30, and on
# the cost model calibrated on a real AWX 24.6.1 (--cost-model real-awx-24.6.1, W=4: the
# overview at 100k jobs, a restart and a saved setting with the persistent cache at 1M).
# Builds release binaries and the plugin as package.sh ships it, then runs
# target/release/awx-bench on them; its last line is
# machine-readable (`BENCH key=value ...`). Arguments go to awx-bench, e.g. --quick
# (one cold run, no 1M jobs), --no-1m, --no-baseline, --no-prometheus, --no-calibrated,
# --cost-scale F.
# Needs: cargo; Debian's prometheus package (prometheus, promtool) for the Prometheus
# comparison, over a week of history backfilled with promtool (skipped without it).
# Figures and how to read them: docs/BENCHMARKS.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
cargo build --release --locked -p awx-sim -p e2e --bins
# The plugin measured is the plugin shipped: package.sh's binary (static musl when the musl
# toolchain is installed, as in .ci/run), beside the simulator.
scripts/package.sh --backend
BIN="$REPO/target/bench-bin"
mkdir -p "$BIN"
install -m 0755 dist/gpx_awx_linux_amd64 "$BIN/gpx_awx"
install -m 0755 target/release/awx-sim "$BIN/awx-sim"
export AWX_E2E_BIN_DIR="$BIN"
exec target/release/awx-bench "$@"
