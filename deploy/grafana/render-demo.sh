#!/usr/bin/env bash
# Regenerates docs/dashboard.png without Docker or Grafana: three emulators, vastgate on the
# VAST backend, Debian's Prometheus scraping it with the alert rules, `vastgate client` traffic
# (one emulator is stopped half-way, so the endpoint panels move), then render.py draws the
# dashboard's panels from Prometheus.
#   deploy/grafana/render-demo.sh [MINUTES]      (needs: prometheus, python3 with matplotlib)
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes="${1:-6}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vastgate/target}"
bin="$CARGO_TARGET_DIR/release/vastgate"
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" gen-data --out "$work/data" --rows 2000000
for port in 18081 18082 18083; do
  "$bin" emulate --data "$work/data" --listen "127.0.0.1:$port" 2>"$work/emulator-$port.log" &
  pids+=($!)
done
VASTGATE__BACKEND__KIND=vast \
VASTGATE__VAST__ENDPOINTS=http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083 \
VASTGATE__VAST__BUCKETS=vastgate VASTGATE__VAST__ACCESS_KEY=vastgate \
VASTGATE__VAST__SECRET_KEY=vastgate-secret \
  "$bin" serve --grpc-listen 127.0.0.1:50051 --http-listen 127.0.0.1:19090 2>"$work/vastgate.log" &
pids+=($!)

sed -e 's#vastgate:9090#127.0.0.1:19090#' -e "s#/etc/prometheus/rules.yml#$PWD/deploy/prometheus/rules.yml#" \
  deploy/prometheus/prometheus.yml > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:19091 2>"$work/prometheus.log" &
pids+=($!)
sleep 3

client() { "$bin" client --format csv "$@" >/dev/null 2>&1 || true; }
end=$(( $(date +%s) + ${minutes%.*} * 60 ))
half=$(( $(date +%s) + ${minutes%.*} * 30 ))
stopped=0
while (( $(date +%s) < end )); do
  client count demo.sensors --where "temperature > 20"
  client percentiles demo.sensors --value-column temperature --group-by region --quantiles 0.5,0.95,0.99
  client sql demo.sensors "SELECT region, avg(humidity) FROM t GROUP BY region"
  client top-n demo.sensors --group-by sensor_id --value-column temperature --function max --n 5
  client describe demo.nope
  if (( !stopped && $(date +%s) > half )); then kill "${pids[0]}"; stopped=1; fi
done
python3 deploy/grafana/render.py --prometheus http://127.0.0.1:19091 --out docs/dashboard.png --minutes "$minutes"
