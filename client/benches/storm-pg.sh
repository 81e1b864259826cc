#!/usr/bin/env bash
# The end-of-shift storm on PostgreSQL with one or more `gridsync` processes
# sharing the database: a fresh database with the reference district (300
# grids), N real servers, and `gridsync-sim` spreading its phones over them.
#   bash client/benches/storm-pg.sh [NODES] [sim arguments…]
# e.g. `bash client/benches/storm-pg.sh 2 --devices 1000 --changes 100 --grids 10`.
# Uses the PostgreSQL of .ci/postgres (installed and started when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
nodes="${1:-2}"; shift || true
cargo build --release -q -p gridsync-server -p gridsync-client
admin_url=$(bash .ci/postgres)
db="storm_$$"
base="${admin_url%/*}"
psql "$admin_url" -q -c "CREATE DATABASE $db" 2>/dev/null || true
url="$base/$db"
dir=$(mktemp -d /tmp/gridsync-storm-pg.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
target/release/gridsync seed --fixture district --database-url "$url" --attachments-dir "$dir/attachments" >/dev/null
servers=()
for n in $(seq "$nodes"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  GRIDSYNC_JWT_SECRET=storm-bench-secret-storm-bench-secret GRIDSYNC_SWEEP_SECS=0 \
    target/release/gridsync serve --database-url "$url" --addr "127.0.0.1:$port" \
      --attachments-dir "$dir/attachments" \
    >"$dir/server$n.log" 2>&1 &
  pids+=($!)
  servers+=("http://127.0.0.1:$port")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
list=$(IFS=,; echo "${servers[*]}")
status=0
target/release/gridsync-sim --server "$list" --devices 1000 --changes 100 --quiet "$@" || status=$?
for i in "${!pids[@]}"; do
  echo "server $((i + 1)) peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/${pids[$i]}/status")"
done
exit "$status"
