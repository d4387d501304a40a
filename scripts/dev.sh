#!/usr/bin/env bash
# Development environment without Docker: builds the plugin into dist/, starts the AWX simulator,
# awx-kpi export (the metrics AWX lacks, docs/EXPORTER.md) and a Prometheus that scrapes both (the
# same provisioning/prometheus config as docker-compose.yml), and tells how to point a local
# Grafana at them.
#
#   scripts/dev.sh            build, start, print the Grafana settings, run until Ctrl-C
#   scripts/dev.sh --check    build, start, check that the simulator answers and that Prometheus
#                             has scraped awx_system_info and the exporter, stop; exit status 0
#                             when all is well (CI)
#   scripts/dev.sh --no-build skip the builds (use what is in target/ and dist/)
#
# Environment: AWX_SIM_PORT (8052), PROMETHEUS_PORT (9090), EXPORTER_PORT (9781), AWX_SIM_ARGS
# (extra simulator flags), DEV_STATE_DIR (.tmp/dev: logs, rendered config, Prometheus data).
# Needs: cargo, Node.js 20+ with npm, python3, and Prometheus 2.x (Debian: apt-get install -y
# prometheus). All of it, and the three ports, are checked before anything is built.
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
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
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
# Preflight: everything the run needs, checked before the build (which takes minutes), every
# problem reported at once with its fix.
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }

# Whether something listens on 127.0.0.1:PORT, judged by binding it as the simulator and
# Prometheus will (with SO_REUSEADDR, so a port in TIME_WAIT counts as free).
port_taken() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}
listener_of() { # PORT -> " (held by NAME)" when ss can tell
  local who
  who=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1, pid \2/p' | head -n1)
  [ -z "$who" ] || printf ' (held by %s)' "$who"
}
check_port() { # PORT VARIABLE WHAT
  local port=$1 var=$2 what=$3
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    problem "$var=$port is not a port number (1 to 65535)"
  elif port_taken "$port"; then
    local other=$((port + 10000))
    [ "$other" -le 65535 ] || other=$((port - 10000))
    problem "port $port for $what is already in use on 127.0.0.1$(listener_of "$port"): set $var to a free port, e.g. $var=$other scripts/dev.sh, or stop what listens there"
  fi
}

if ! command -v python3 >/dev/null 2>&1; then
  problem "python3 not found: on Debian/Ubuntu run 'apt-get install -y python3' (this script uses it to find free ports and read Prometheus' answers)"
fi
if [ "$BUILD" = 1 ]; then
  command -v cargo >/dev/null 2>&1 ||
    problem "cargo not found: install Rust with rustup (https://rustup.rs), then open a new shell"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    problem "node or npm not found: install Node.js 20 or newer with npm (e.g. from https://nodejs.org or your distribution's nodejs and npm packages)"
  elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    problem "Node.js $(node -v) is too old for the frontend build: install Node.js 20 or newer"
  fi
fi
PROMETHEUS=$(command -v prometheus || true)
[ -n "$PROMETHEUS" ] ||
  problem "prometheus not found: on Debian/Ubuntu run 'apt-get install -y prometheus' (the service need not run; this script starts the binary), elsewhere put Prometheus 2.x on the PATH"
if [ "$CHECK" = 0 ] && command -v python3 >/dev/null 2>&1; then
  check_port "${AWX_SIM_PORT:-8052}" AWX_SIM_PORT "the AWX simulator"
  check_port "${PROMETHEUS_PORT:-9090}" PROMETHEUS_PORT "Prometheus"
  check_port "${EXPORTER_PORT:-9781}" EXPORTER_PORT "awx-kpi export"
fi
if [ "${#PROBLEMS[@]}" -gt 0 ]; then
  log "cannot start; fix first:"
  for p in "${PROBLEMS[@]}"; do
    printf '  - %s\n' "$p" >&2
  done
  exit 1
fi

# ------------------------------------------------------------------------------------------------
# Build: the plugin backend and frontend into dist/, the simulator.
if [ "$BUILD" = 1 ]; then
  log "building the plugin backend and the simulator (release)"
  (cd "$REPO" && cargo build --release --locked -p gpx_awx)
  (cd "$REPO" && cargo build --release --locked -p awx-sim)
  (cd "$REPO" && cargo build --release --locked -p awx-kpi)
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
[ -x "$REPO/target/release/awx-kpi" ] || die "target/release/awx-kpi is missing: run without --no-build"
[ -x "$REPO/dist/gpx_awx_${GOOS}_${GOARCH}" ] || die "dist/gpx_awx_${GOOS}_${GOARCH} is missing: run without --no-build"
[ -f "$REPO/dist/plugin.json" ] || die "dist/plugin.json is missing: run without --no-build"


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
  if ! kill -0 "$SIM_PID" 2>/dev/null; then
    cause=$(grep -iE 'error|awx-sim:' "$STATE/awx-sim.log" | tail -n 2)
    [ -n "$cause" ] || cause=$(tail -n 3 "$STATE/awx-sim.log")
    case "$cause" in
      *"cannot bind"*) cause="$cause; set AWX_SIM_PORT to a free port" ;;
    esac
    die "the simulator exited at start: ${cause:-no message} (log: $STATE/awx-sim.log)"
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "the simulator did not say where it listens within 120 s; see $STATE/awx-sim.log"
  sleep 0.5
done
SIM_URL=$(sim_url)
wait_for 60 "simulator answers $SIM_URL/api/v2/ping/" http_get "$SIM_URL/api/v2/ping/" ||
  die "the simulator does not answer $SIM_URL/api/v2/ping/; see $STATE/awx-sim.log"

# ------------------------------------------------------------------------------------------------
# awx-kpi export against the simulator. It prints "awx-kpi export: serving http://.../metrics ..."
# once it listens, then takes its baseline (jobs that finish from now on count).
if [ "$CHECK" = 1 ]; then
  EXPORTER_LISTEN=127.0.0.1:0
else
  EXPORTER_LISTEN=127.0.0.1:${EXPORTER_PORT:-9781}
fi
: > "$STATE/awx-kpi.out"
AWX_URL=$SIM_URL AWX_TOKEN=$SIM_TOKEN "$REPO/target/release/awx-kpi" export --listen "$EXPORTER_LISTEN" \
  --new-series-hold 30s </dev/null >"$STATE/awx-kpi.out" 2>"$STATE/awx-kpi.log" &
PIDS+=($!)
EXPORTER_PID=$!
exporter_url() { sed -n 's|.*serving \(http://[^ ]*\)/metrics.*|\1|p' "$STATE/awx-kpi.out" | head -n1; }
deadline=$((SECONDS + 60))
until [ -n "$(exporter_url)" ]; do
  if ! kill -0 "$EXPORTER_PID" 2>/dev/null; then
    cause=$(grep -E '^error' "$STATE/awx-kpi.log" | tail -n 2)
    [ -n "$cause" ] || cause=$(tail -n 3 "$STATE/awx-kpi.log")
    die "awx-kpi export exited at start: ${cause:-no message} (log: $STATE/awx-kpi.log)"
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "awx-kpi export did not say where it listens within 60 s; see $STATE/awx-kpi.log"
  sleep 0.5
done
EXPORTER_URL=$(exporter_url)
wait_for 60 "awx-kpi export answers $EXPORTER_URL/metrics" http_get "$EXPORTER_URL/metrics" ||
  die "awx-kpi export does not answer $EXPORTER_URL/metrics; see $STATE/awx-kpi.log"

# ------------------------------------------------------------------------------------------------
# Prometheus with the same scrape config as docker-compose.yml, rendered for the simulator and
# the exporter.
PROM_CONFIG=$(AWX_URL=$SIM_URL AWX_TOKEN=$SIM_TOKEN AWX_API_PATH=/api/v2/ \
  EXPORTER_TARGET=${EXPORTER_URL#http://} \
  SCRAPE_INTERVAL=$([ "$CHECK" = 1 ] && echo 5s || echo 15s) \
  sh "$REPO/provisioning/prometheus/render.sh" "$STATE/prometheus" "$REPO/provisioning/prometheus/prometheus.yml.tmpl")
PROM_URL=http://127.0.0.1:$PROM_PORT
"$PROMETHEUS" --config.file="$PROM_CONFIG" --storage.tsdb.path="$STATE/prometheus/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >"$STATE/prometheus.log" 2>&1 &
PIDS+=($!)
PROM_PID=$!
# Prometheus that cannot start (port taken, data directory locked by another one, bad config)
# exits within a second: report its own error then, not after the readiness timeout.
deadline=$((SECONDS + 60))
until http_get "$PROM_URL/-/ready" >/dev/null 2>&1; do
  if ! kill -0 "$PROM_PID" 2>/dev/null; then
    cause=$(grep -E 'level=(error|fatal)' "$STATE/prometheus.log" | sed -n 's/.*msg="\([^"]*\)".*err="\([^"]*\)".*/\1: \2/p' | tail -n 2)
    [ -n "$cause" ] || cause=$(tail -n 3 "$STATE/prometheus.log")
    case "$cause" in
      *"address already in use"*) cause="$cause; set PROMETHEUS_PORT to a free port" ;;
      *"lock DB directory"*) cause="$cause; another Prometheus uses $STATE/prometheus/data: stop it, or set DEV_STATE_DIR" ;;
    esac
    die "Prometheus exited at start: $cause (log: $STATE/prometheus.log)"
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "Prometheus is not ready at $PROM_URL after 60 s; see $STATE/prometheus.log"
  sleep 0.5
done
log "Prometheus ready at $PROM_URL: ok"

scraped() {
  http_get "$PROM_URL/api/v1/query?query=awx_system_info%7Bjob%3D%22awx%22%7D" |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
if ! wait_for 90 "Prometheus has scraped awx_system_info{job=\"awx\"}" scraped; then
  log "no awx_system_info{job=\"awx\"} after 90 s; the scrape target's state:"
  http_get "$PROM_URL/api/v1/targets?state=active" >&2 || true
  die "Prometheus does not get the simulator's metrics; see $STATE/prometheus.log"
fi
exported() {
  http_get "$PROM_URL/api/v1/query?query=awx_exporter_last_sync_timestamp_seconds%7Bjob%3D%22awx%22%7D" |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
if ! wait_for 90 "Prometheus has scraped awx-kpi export (awx_exporter_last_sync_timestamp_seconds{job=\"awx\"})" exported; then
  http_get "$PROM_URL/api/v1/targets?state=active" >&2 || true
  die "Prometheus does not get the exporter's metrics (a sync with the simulator failed?); see $STATE/awx-kpi.log and $STATE/prometheus.log"
fi

if [ "$CHECK" = 1 ]; then
  log "check passed: simulator at $SIM_URL, awx-kpi export at $EXPORTER_URL, Prometheus at $PROM_URL, plugin in dist/"
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
  awx-kpi export $EXPORTER_URL/metrics  (docs/EXPORTER.md; log $STATE/awx-kpi.log)
  Prometheus     $PROM_URL  (job="awx" for both, config $PROM_CONFIG)
  Plugin         $REPO/dist (linked as $STATE/plugins/seed-awx-datasource)

  Start a local Grafana (12.3 or newer) with these settings; provisioning creates the AWX data
  source and the AWX dashboards (the guide's Prometheus panels included):

    set -a; . $STATE/grafana.env; set +a
    grafana server --homepath /usr/share/grafana      # or: grafana-server, as installed

  After rebuilding the backend (cargo build --release -p gpx_awx, then copy it to
  dist/gpx_awx_${GOOS}_${GOARCH}), restart Grafana to load it. Logs: $STATE/*.log.
  Ctrl-C stops the simulator, the exporter and Prometheus.

EOF
# Run until Ctrl-C or until one of the three stops.
while kill -0 "${PIDS[0]}" 2>/dev/null && kill -0 "${PIDS[1]}" 2>/dev/null && kill -0 "${PIDS[2]}" 2>/dev/null; do
  sleep 2
done
die "a process stopped; see $STATE/*.log"
