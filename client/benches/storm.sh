#!/usr/bin/env bash
# The end-of-shift storm on the embedded SQLite: a fresh store with the
# reference district (300 grids), the real `gridsync` server, and
# `gridsync-sim` with 1,000 phones × 100 changes (override with arguments,
# e.g. `bash client/benches/storm.sh --devices 200 --changes 50`).
# Prints the simulator's report and the server's peak memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gridsync-server -p gridsync-client
dir=$(mktemp -d /tmp/gridsync-storm.XXXXXX)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
target/release/gridsync seed --fixture district --database-url "$dir/gridsync.db" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GRIDSYNC_JWT_SECRET=storm-bench-secret-storm-bench-secret \
  target/release/gridsync serve --database-url "$dir/gridsync.db" --addr "127.0.0.1:$port" \
  >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
# The server's own heap (RssAnon; the peak RSS also counts the database
# pages it maps), sampled every 0.2 s.
( peak=0; while kill -0 "$server" 2>/dev/null; do
    a=$(awk '/RssAnon/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    [ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" >"$dir/anon"
    sleep 0.2
  done ) &
status=0
target/release/gridsync-sim --server "http://127.0.0.1:$port" --devices 1000 --changes 100 --quiet \
  --server-pid "$server" "$@" || status=$?
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$server/status"), peak heap (RssAnon): $(awk '{printf "%.0f MiB", $1/1024}' "$dir/anon")"
exit "$status"
