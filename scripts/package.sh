#!/usr/bin/env bash
# Builds the plugin into dist/, as Grafana loads it: dist/plugin.json, module.js, img/,
# dashboards/ (the frontend build) and dist/gpx_awx_linux_<arch>, a static musl binary that
# runs both in Grafana's Alpine image and on any Linux host.
#
#   scripts/package.sh               frontend + backend
#   scripts/package.sh --backend     backend only
#   scripts/package.sh --host-only   the backend linked against this host's glibc instead: it runs
#                                    on this host and in Grafana's -ubuntu images, NOT in the default
#                                    (Alpine) image; for when the musl toolchain cannot be had
#
# Needs: cargo and rustup (the musl target is added if missing), musl-gcc (Debian/Ubuntu:
# apt-get install -y musl-tools); for the frontend Node.js 20+ with npm. All of it is checked
# before anything is built. docker/Dockerfile runs the same commands.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

FRONTEND=1
STATIC=1
for arg in "$@"; do
  case "$arg" in
    --backend) FRONTEND=0 ;;
    --host-only) STATIC=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

case "$(uname -m)" in
  x86_64|amd64) ARCH=x86_64 GOARCH=amd64 ;;
  aarch64|arm64) ARCH=aarch64 GOARCH=arm64 ;;
  *) echo "package.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
[ "$(uname -s)" = Linux ] || { echo "package.sh: builds the Linux plugin binary on Linux only" >&2; exit 1; }
TARGET=$ARCH-unknown-linux-musl
BIN=dist/gpx_awx_linux_$GOARCH

# ------------------------------------------------------------------------------------------------
# Preflight: every problem at once, with its fix, before minutes of building.
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }
command -v cargo >/dev/null 2>&1 ||
  problem "cargo not found: install Rust with rustup (https://rustup.rs), then open a new shell"
if [ "$FRONTEND" = 1 ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    problem "node or npm not found: install Node.js 20 or newer with npm (or build the backend only: --backend)"
  elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    problem "Node.js $(node -v) is too old for the frontend build: install Node.js 20 or newer"
  fi
fi
if [ "$STATIC" = 1 ]; then
  MUSL_FIX="or, for a binary that runs on this host and in Grafana's -ubuntu images but not in its default Alpine image, build with --host-only"
  command -v musl-gcc >/dev/null 2>&1 ||
    problem "musl-gcc not found, needed for the static binary: on Debian/Ubuntu run 'apt-get install -y musl-tools'; $MUSL_FIX"
  if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$TARGET"; then
      echo "package.sh: adding the Rust target $TARGET" >&2
      rustup target add "$TARGET" >&2 ||
        problem "the Rust target $TARGET could not be added ('rustup target add $TARGET' failed: is the network to static.rust-lang.org open?); $MUSL_FIX"
    fi
  elif ! rustc --print target-libdir --target "$TARGET" >/dev/null 2>&1 ||
       [ ! -d "$(rustc --print target-libdir --target "$TARGET" 2>/dev/null)" ]; then
    problem "the Rust target $TARGET is not installed and rustup is not there to add it: install Rust with rustup (https://rustup.rs); $MUSL_FIX"
  fi
fi
if [ "${#PROBLEMS[@]}" -gt 0 ]; then
  echo "package.sh: cannot build; fix first:" >&2
  for p in "${PROBLEMS[@]}"; do
    printf '  - %s\n' "$p" >&2
  done
  exit 1
fi

# ------------------------------------------------------------------------------------------------
if [ "$FRONTEND" = 1 ]; then
  (cd frontend && npm ci --no-audit --no-fund && npm run build)
fi

mkdir -p dist
if [ "$STATIC" = 1 ]; then
  CC_var="CC_${TARGET//-/_}"
  env "$CC_var=musl-gcc" cargo build --release --locked -p gpx_awx --target "$TARGET"
  # Whatever the toolchain did, a binary that asks for a dynamic loader is not called static.
  if command -v ldd >/dev/null 2>&1 && ldd "target/$TARGET/release/gpx_awx" 2>&1 | grep -q '=>'; then
    echo "package.sh: target/$TARGET/release/gpx_awx links shared libraries; not installing it as $BIN:" >&2
    ldd "target/$TARGET/release/gpx_awx" >&2 || true
    exit 1
  fi
  install -m 0755 "target/$TARGET/release/gpx_awx" "$BIN"
  KIND="static (musl): runs in Grafana's Alpine image and on any Linux host"
else
  cargo build --release --locked -p gpx_awx
  install -m 0755 target/release/gpx_awx "$BIN"
  KIND="linked against this host's glibc (--host-only): runs on this host and in Grafana's -ubuntu images, NOT in the default Alpine image"
fi
echo "package.sh: $BIN is $KIND" >&2
echo "package.sh: dist/ holds $(ls dist | tr '\n' ' ')"
