#!/bin/sh
# Renders prometheus.yml.tmpl into a ready Prometheus config for scraping AWX's metrics.
#
#   render.sh OUT_DIR [TEMPLATE]
#
# Writes OUT_DIR/prometheus.yml and, when AWX_TOKEN is set, OUT_DIR/awx-token (mode 600,
# referenced by the config's credentials_file, so the token never sits in the config).
# Prints the path of the rendered config on stdout.
#
# Environment:
#   AWX_URL              AWX base URL, e.g. https://awx.example.com or http://awx-sim:8052 (required)
#   AWX_API_PATH         API root under the URL: /api/v2/ (AWX, default) or /api/controller/v2/ (AAP 2.5+ gateway)
#   AWX_TOKEN            bearer token of a superuser or system auditor (empty: scrape without credentials)
#   AWX_TLS_SKIP_VERIFY  true to accept any certificate (insecure; default false)
#   AWX_CA_FILE          PEM file of a private CA to trust, as seen by Prometheus
#   SCRAPE_INTERVAL      default 15s; raise it for AWX installations with very many jobs
#   EXPORTER_TARGET      host:port of awx-kpi export (docs/EXPORTER.md), scraped as job="awx" too;
#                        empty: AWX's metrics only
#
# POSIX sh only: it also runs in the busybox shell of the prom/prometheus image.
set -eu

die() { echo "render.sh: $*" >&2; exit 1; }

out_dir=${1:-}
[ -n "$out_dir" ] || die "usage: render.sh OUT_DIR [TEMPLATE]"
template=${2:-$(dirname "$0")/prometheus.yml.tmpl}
[ -r "$template" ] || die "cannot read the template $template"

awx_url=${AWX_URL:-}
[ -n "$awx_url" ] || die "AWX_URL is empty: set it to the AWX base URL, e.g. https://awx.example.com"
api_path=${AWX_API_PATH:-/api/v2/}
token=${AWX_TOKEN:-}
skip_verify=${AWX_TLS_SKIP_VERIFY:-false}
ca_file=${AWX_CA_FILE:-}
interval=${SCRAPE_INTERVAL:-15s}
exporter=${EXPORTER_TARGET:-}

# Split the URL into scheme, host:port and an optional path prefix (a gateway mounted under /aap, say).
case "$awx_url" in
  http://*) scheme=http; rest=${awx_url#http://} ;;
  https://*) scheme=https; rest=${awx_url#https://} ;;
  *) die "AWX_URL must start with http:// or https:// (got $awx_url)" ;;
esac
case "$rest" in
  */*) host=${rest%%/*}; prefix=/${rest#*/} ;;
  *) host=$rest; prefix= ;;
esac
case "$host" in
  *@*) die "AWX_URL must not carry credentials; use AWX_TOKEN" ;;
  "") die "AWX_URL has no host" ;;
esac
case "$prefix" in
  *\?*|*\#*) die "AWX_URL must not have a query string or fragment" ;;
esac
prefix=${prefix%/}
# Prometheus targets are host:port; add the scheme's default port when none is given.
case "$host" in
  \[*\]:*) ;;                     # [v6]:port
  \[*\]) host="$host:$( [ "$scheme" = https ] && echo 443 || echo 80 )" ;;
  *:*) ;;
  *) host="$host:$( [ "$scheme" = https ] && echo 443 || echo 80 )" ;;
esac

case "$api_path" in
  /*/) ;;
  *) die "AWX_API_PATH must start and end with /, e.g. /api/v2/ or /api/controller/v2/ (got $api_path)" ;;
esac
metrics_path="$prefix${api_path}metrics/"

case "$exporter" in
  "") ;;
  *://*|*/*|*@*) die "EXPORTER_TARGET is host:port, e.g. awx-kpi:9781 (got $exporter)" ;;
  *:*) ;;
  *) die "EXPORTER_TARGET needs a port, e.g. $exporter:9781" ;;
esac

case "$skip_verify" in
  true|false) ;;
  *) die "AWX_TLS_SKIP_VERIFY must be true or false (got $skip_verify)" ;;
esac

mkdir -p "$out_dir"
token_file="$out_dir/awx-token"
keep=""
if [ -n "$token" ]; then
  (umask 077 && printf '%s' "$token" > "$token_file")
  keep="$keep auth"
else
  rm -f "$token_file"
  echo "render.sh: AWX_TOKEN is empty: scraping $awx_url without credentials (AWX answers 401 unless anonymous metrics are allowed)" >&2
fi
[ -n "$exporter" ] && keep="$keep exporter"
if [ "$scheme" = https ]; then
  keep="$keep tls"
  [ -n "$ca_file" ] && keep="$keep ca"
elif [ -n "$ca_file" ] || [ "$skip_verify" = true ]; then
  echo "render.sh: AWX_CA_FILE / AWX_TLS_SKIP_VERIFY ignored: $awx_url is plain http" >&2
fi

# Escape a value for the right-hand side of a sed s|...|...| command.
esc() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# One sed program: fill the placeholders, then keep or drop each optional marker.
program="s|__SCRAPE_INTERVAL__|$(esc "$interval")|g
s|__METRICS_PATH__|$(esc "$metrics_path")|g
s|__SCHEME__|$scheme|g
s|__TOKEN_FILE__|$(esc "$token_file")|g
s|__TLS_INSECURE__|$skip_verify|g
s|__CA_FILE__|$(esc "$ca_file")|g
s|__TARGET__|$(esc "$host")|g
s|__EXPORTER_TARGET__|$(esc "$exporter")|g"
for marker in auth tls ca exporter; do
  case " $keep " in
    *" $marker "*) program="$program
s|[[:space:]]*# @$marker\$||" ;;
    *) program="$program
/# @$marker\$/d" ;;
  esac
done

config="$out_dir/prometheus.yml"
sed -e "$program" "$template" > "$config.tmp"
mv "$config.tmp" "$config"
echo "render.sh: scraping $scheme://$host$metrics_path every $interval (job=\"awx\")" >&2
[ -z "$exporter" ] || echo "render.sh: and awx-kpi export at http://$exporter/metrics (job=\"awx\")" >&2
echo "$config"
