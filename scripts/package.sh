#!/usr/bin/env bash
# Builds the plugin into dist/, as Grafana loads it: dist/plugin.json, module.js, img/,
# dashboards/ (the frontend build) and dist/gpx_awx_linux_amd64, a static musl binary that
# runs both in Grafana's Alpine image and on any Linux host.
#
#   scripts/package.sh            frontend + backend
#   scripts/package.sh --backend  backend only
#
# docker/Dockerfile runs the same commands.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
TARGET=x86_64-unknown-linux-musl

if [ "${1:-}" != "--backend" ]; then
  (cd frontend && npm ci --no-audit --no-fund && npm run build)
fi

mkdir -p dist
if { rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"; } \
   && command -v musl-gcc >/dev/null; then
  CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked -p gpx_awx --target "$TARGET"
  install -m 0755 "target/$TARGET/release/gpx_awx" dist/gpx_awx_linux_amd64
else
  # Without the musl target (or musl-gcc from Debian's musl-tools) the binary links glibc:
  # fine for Grafana on Debian/Ubuntu hosts and the -ubuntu images, not for the Alpine image.
  echo "package.sh: WARNING: no musl toolchain; building for this host's glibc instead" >&2
  cargo build --release --locked -p gpx_awx
  install -m 0755 target/release/gpx_awx dist/gpx_awx_linux_amd64
fi
echo "package.sh: dist/ holds $(ls dist | tr '\n' ' ')"
