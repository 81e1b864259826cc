#!/usr/bin/env bash
# Issue 14's benchmark, in one run on this machine: the end-of-shift storm and
# the fan-out reads on a Citus cluster (a coordinator and two workers, from
# .ci/citus) next to one plain PostgreSQL. The plain store is the
# coordinator's own server with every table local (`migrate --layout plain`):
# the same build and settings, so the difference is the distribution alone.
#
#   bash client/benches/citus.sh [DEVICES] [CHANGES] [SMALL_DEVICES] [SMALL_CHANGES]
#   (defaults 1000 100 300 30)
#
# For each store: a fresh schema with the reference district (300 grids)
# seeded; then
# - the storm of DEVICES phones × CHANGES changes over 300 grids, with one
#   and with two `gridsync` processes;
# - the grid scaling: SMALL_DEVICES phones × SMALL_CHANGES changes written
#   to 300, 10 and 1 grids (two processes). Smaller, because every phone of
#   a grid pulls every other phone's changes of it: 1,000 phones in one grid
#   are a million-record pull, not a test of the server (the simulator
#   passed 14 GB and was stopped);
# - a district supervisor's first pull of all 300 grids, and the district
#   summary.
# Each storm is a new fleet on the same store (the same sequence on both
# stores). Prints tables; every storm's verdict must be clean (the script
# fails otherwise).
set -euo pipefail
cd "$(dirname "$0")/../.."
devices="${1:-1000}"
changes="${2:-100}"
small_devices="${3:-300}"
small_changes="${4:-30}"
cargo build --release -q -p gridsync-server -p gridsync-client
bin=target/release
coord=$(bash .ci/citus)
work=$(mktemp -d /tmp/gridsync-citus-bench.XXXXXX)
secret=citus-bench-secret-citus-bench-secret
pids=()
schemas=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for s in "${schemas[@]}"; do psql "$coord" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# make_store NAME LAYOUT: a schema with the district seeded; sets $url.
make_store() {
  local schema="bench_$1_$$"
  schemas+=("$schema")
  psql "$coord" -qc "CREATE SCHEMA $schema"
  url="$coord?options=-csearch_path%3D$schema"
  $bin/gridsync migrate --layout "$2" --database-url "$url" 2>/dev/null | grep -o "layout: .*" | sed "s|^|  $1: |"
  local t0=$(date +%s.%N)
  $bin/gridsync seed --fixture district --database-url "$url" --attachments-dir "$work/att-$1" >/dev/null 2>&1
  printf '  %s: district seeded in %.0f s\n' "$1" "$(echo "$(date +%s.%N) - $t0" | bc)"
}

# start_servers N: N `gridsync serve` on $url; sets $list.
start_servers() {
  local servers=()
  for _ in $(seq "$1"); do
    local port
    port=$(free_port)
    GRIDSYNC_JWT_SECRET=$secret GRIDSYNC_SWEEP_SECS=0 \
      $bin/gridsync serve --database-url "$url" --addr "127.0.0.1:$port" \
      --attachments-dir "$work/att" >>"$work/server.log" 2>&1 &
    pids+=($!)
    servers+=("http://127.0.0.1:$port")
    for _ in $(seq 200); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  list=$(IFS=,; echo "${servers[*]}")
}

stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

rows=()
# storm STORE NODES GRIDS PHONES CHANGES
storm() {
  start_servers "$2"
  local out
  out=$($bin/gridsync-sim --server "$list" --devices "$4" --changes "$5" \
        --grids "$3" --seed "$RANDOM" --quiet) || { echo "$out"; echo "storm failed"; exit 1; }
  local secs cps p99
  secs=$(echo "$out" | sed -n 's/^storm: \([0-9.]*\) s, \([0-9]*\) changes.*/\1/p')
  cps=$(echo "$out" | sed -n 's/^storm: \([0-9.]*\) s, \([0-9]*\) changes.*/\2/p')
  p99=$(echo "$out" | sed -n 's/.*p99 \([0-9]*\) ms.*/\1/p')
  local verdict=clean
  echo "$out" | grep -q "nothing lost" || verdict=LOST
  rows+=("| $1 | $4 × $5 | $2 | $3 | $secs | $cps | $p99 | $verdict |")
  echo "  $1, $4 × $5, $2 process(es), $3 grid(s): $secs s, $cps changes/s, p99 $p99 ms, $verdict"
  stop_servers
  [ "$verdict" = clean ] || { echo "$out"; exit 1; }
}

reads=()
# fan_out STORE: a district supervisor's first pull of 300 grids; the summary.
fan_out() {
  start_servers 1
  local server=${list%%,*} dev="$work/sup-$1"
  $bin/gridsync-device --dir "$dev" enroll --server "$server" --user supervisor01 \
    --password gridsync-demo >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  local pulled
  pulled=$($bin/gridsync-device --dir "$dev" --json sync | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["pulled_records"], r["round_trips"])')
  t1=$(date +%s.%N)
  local token
  token=$(curl -fs -H 'content-type: application/json' \
    -d '{"username":"supervisor01","password":"gridsync-demo"}' "$server/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  local times=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -fs -o /dev/null -w '%{time_total}' -H "authorization: Bearer $token" "$server/v1/reports/summary")")
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  reads+=("| $1 | $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s (${pulled% *} records, ${pulled#* } round trips) | $(printf '%.0f' "$(echo "$median * 1000" | bc)") ms |")
  stop_servers
}

for store in plain citus; do
  echo "== $store"
  make_store "$store" "$store"
  storm "$store" 1 300 "$devices" "$changes"
  storm "$store" 2 300 "$devices" "$changes"
  for g in 300 10 1; do storm "$store" 2 "$g" "$small_devices" "$small_changes"; done
  fan_out "$store"
done

echo
echo "storms (2 vCPU: PostgreSQL or Citus, the servers and the phones share them)"
echo "| store | phones × changes | gridsync processes | grids written | storm s | changes/s | sync p99 ms | verdict |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "fan-out reads (one process)"
echo "| store | district supervisor's first pull of 300 grids | district summary (median of 5) |"
echo "|---|---|---|"
printf '%s\n' "${reads[@]}"
