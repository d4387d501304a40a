#!/usr/bin/env bash
# Development environment without Docker: builds the plugin into dist/, starts the AWX simulator
# and a Prometheus that scrapes it (the same provisioning/prometheus config as docker-compose.yml),
# and tells how to point a local Grafana at them.
#
#   scripts/dev.sh            build, start, print the Grafana settings, run until Ctrl-C
#   scripts/dev.sh --check    build, start, check that the simulator answers and that Prometheus
#                             has scraped awx_system_info, stop; exit status 0 when all is well (CI)
#   scripts/dev.sh --no-build skip the builds (use what is in target/ and dist/)
#
# Environment: AWX_SIM_PORT (8052), PROMETHEUS_PORT (9090), AWX_SIM_ARGS (extra simulator flags),
# DEV_STATE_DIR (.tmp/dev: logs, rendered config, Prometheus data).
# Needs: cargo, node + npm, and Prometheus (Debian: apt-get install -y prometheus).
#
# The build commands are those of docker/Dockerfile, except that the plugin is built for this
# host's own target there being no Alpine image to fit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHECK=0
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "dev.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

STATE=${DEV_STATE_DIR:-$REPO/.tmp/dev}
SIM_TOKEN=sim-admin-token
SIM_ARGS=(--api-prefix both --days 30 --jobs-per-day 500)
# shellcheck disable=SC2206 # word splitting of the extra flags is wanted
[ -n "${AWX_SIM_ARGS:-}" ] && SIM_ARGS+=(${AWX_SIM_ARGS})

log() { printf 'dev.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ------------------------------------------------------------------------------------------------
# Processes we start, stopped (only they) when the script ends.
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_get() { # URL -> body on stdout; non-zero on failure
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 "$1"
  else
    python3 - "$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
PY
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 1
  done
  log "$what: ok"
}

case "$(uname -s)" in
  Linux) GOOS=linux ;;
  Darwin) GOOS=darwin ;;
  *) die "unsupported OS $(uname -s)" ;;
esac
case "$(uname -m)" in
  x86_64|amd64) GOARCH=amd64 ;;
  aarch64|arm64) GOARCH=arm64 ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac

# ------------------------------------------------------------------------------------------------
# Build: the plugin backend and frontend into dist/, the simulator.
if [ "$BUILD" = 1 ]; then
  command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
  command -v npm >/dev/null || die "npm not found: install Node.js 20 or newer"
  log "building the plugin backend and the simulator (release)"
  (cd "$REPO" && cargo build --release --locked -p gpx_awx)
  (cd "$REPO" && cargo build --release --locked -p awx-sim)
  log "building the plugin frontend"
  # npm ci only when the installed modules do not match the lock file (it starts from scratch).
  if [ ! -f "$REPO/frontend/node_modules/.package-lock.json" ] ||
     [ "$REPO/frontend/package-lock.json" -nt "$REPO/frontend/node_modules/.package-lock.json" ]; then
    (cd "$REPO/frontend" && npm ci)
  fi
  (cd "$REPO/frontend" && npm run build)
  mkdir -p "$REPO/dist"
  cp "$REPO/target/release/gpx_awx" "$REPO/dist/gpx_awx_${GOOS}_${GOARCH}"
  chmod 0755 "$REPO/dist/gpx_awx_${GOOS}_${GOARCH}"
fi
[ -x "$REPO/target/release/awx-sim" ] || die "target/release/awx-sim is missing: run without --no-build"
[ -x "$REPO/dist/gpx_awx_${GOOS}_${GOARCH}" ] || die "dist/gpx_awx_${GOOS}_${GOARCH} is missing: run without --no-build"
[ -f "$REPO/dist/plugin.json" ] || die "dist/plugin.json is missing: run without --no-build"

PROMETHEUS=$(command -v prometheus || true)
[ -n "$PROMETHEUS" ] || die "prometheus not found: on Debian/Ubuntu run 'apt-get install -y prometheus' (the service need not run; this script starts the binary), elsewhere put Prometheus 2.x on the PATH"

mkdir -p "$STATE"

# ------------------------------------------------------------------------------------------------
# The simulator, on loopback. It prints "awx-sim listening on http://..." once it serves.
if [ "$CHECK" = 1 ]; then
  SIM_LISTEN=127.0.0.1:0
  PROM_PORT=$(free_port)
else
  SIM_LISTEN=127.0.0.1:${AWX_SIM_PORT:-8052}
  PROM_PORT=${PROMETHEUS_PORT:-9090}
fi
: > "$STATE/awx-sim.out"
"$REPO/target/release/awx-sim" --listen "$SIM_LISTEN" "${SIM_ARGS[@]}" </dev/null >"$STATE/awx-sim.out" 2>"$STATE/awx-sim.log" &
PIDS+=($!)
SIM_PID=$!
sim_url() { sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$STATE/awx-sim.out" | head -n1 | sed 's|/*$||'; }
deadline=$((SECONDS + 120))
until [ -n "$(sim_url)" ]; do
  kill -0 "$SIM_PID" 2>/dev/null || die "the simulator exited; see $STATE/awx-sim.log: $(tail -n 5 "$STATE/awx-sim.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "the simulator did not say where it listens within 120 s; see $STATE/awx-sim.log"
  sleep 0.5
done
SIM_URL=$(sim_url)
wait_for 60 "simulator answers $SIM_URL/api/v2/ping/" http_get "$SIM_URL/api/v2/ping/" ||
  die "the simulator does not answer $SIM_URL/api/v2/ping/; see $STATE/awx-sim.log"

# ------------------------------------------------------------------------------------------------
# Prometheus with the same scrape config as docker-compose.yml, rendered for the simulator.
PROM_CONFIG=$(AWX_URL=$SIM_URL AWX_TOKEN=$SIM_TOKEN AWX_API_PATH=/api/v2/ \
  SCRAPE_INTERVAL=$([ "$CHECK" = 1 ] && echo 5s || echo 15s) \
  sh "$REPO/provisioning/prometheus/render.sh" "$STATE/prometheus" "$REPO/provisioning/prometheus/prometheus.yml.tmpl")
PROM_URL=http://127.0.0.1:$PROM_PORT
"$PROMETHEUS" --config.file="$PROM_CONFIG" --storage.tsdb.path="$STATE/prometheus/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >"$STATE/prometheus.log" 2>&1 &
PIDS+=($!)
wait_for 60 "Prometheus ready at $PROM_URL" http_get "$PROM_URL/-/ready" ||
  die "Prometheus is not ready at $PROM_URL; see $STATE/prometheus.log"

scraped() {
  http_get "$PROM_URL/api/v1/query?query=awx_system_info%7Bjob%3D%22awx%22%7D" |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
if ! wait_for 90 "Prometheus has scraped awx_system_info{job=\"awx\"}" scraped; then
  log "no awx_system_info{job=\"awx\"} after 90 s; the scrape target's state:"
  http_get "$PROM_URL/api/v1/targets?state=active" >&2 || true
  die "Prometheus does not get the simulator's metrics; see $STATE/prometheus.log"
fi

if [ "$CHECK" = 1 ]; then
  log "check passed: simulator at $SIM_URL, Prometheus at $PROM_URL, plugin in dist/"
  exit 0
fi

# ------------------------------------------------------------------------------------------------
# How to run a local Grafana against this.
mkdir -p "$STATE/plugins"
ln -sfn "$REPO/dist" "$STATE/plugins/seed-awx-datasource"
cat > "$STATE/grafana.env" <<EOF
# Source this before starting Grafana (set -a; . $STATE/grafana.env; set +a).
GF_PATHS_PLUGINS=$STATE/plugins
GF_PATHS_PROVISIONING=$REPO/provisioning
GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=seed-awx-datasource
GF_AUTH_ANONYMOUS_ENABLED=true
GF_AUTH_ANONYMOUS_ORG_ROLE=Admin
GF_LOG_FILTERS=plugin.seed-awx-datasource:debug
AWX_URL=$SIM_URL
AWX_TOKEN=$SIM_TOKEN
AWX_API_PATH=/api/v2/
AWX_UI_URL=$SIM_URL
AWX_TLS_SKIP_VERIFY=false
PROMETHEUS_URL=$PROM_URL
AWX_DASHBOARDS_DIR=$REPO/dashboards
EOF

cat >&2 <<EOF

  AWX simulator  $SIM_URL   (tokens: sim-admin-token, sim-auditor-token, sim-viewer-token)
  Prometheus     $PROM_URL  (job="awx", config $PROM_CONFIG)
  Plugin         $REPO/dist (linked as $STATE/plugins/seed-awx-datasource)

  Start a local Grafana (12.3 or newer) with these settings; provisioning creates the AWX data
  source and the AWX dashboards:

    set -a; . $STATE/grafana.env; set +a
    grafana server --homepath /usr/share/grafana      # or: grafana-server, as installed

  After rebuilding the backend (cargo build --release -p gpx_awx, then copy it to
  dist/gpx_awx_${GOOS}_${GOARCH}), restart Grafana to load it. Logs: $STATE/*.log.
  Ctrl-C stops the simulator and Prometheus.

EOF
# Run until Ctrl-C or until one of the two stops.
while kill -0 "${PIDS[0]}" 2>/dev/null && kill -0 "${PIDS[1]}" 2>/dev/null; do
  sleep 2
done
die "a process stopped; see $STATE/*.log"
