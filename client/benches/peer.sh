#!/usr/bin/env bash
# gridsync side by side with pouchdb-server 4.2.0 (issue 13), end to end:
# installs Node.js and npm from Debian when `node` is missing, installs
# pouchdb-server (client/benches/peer/package.json) into
# client/benches/peer/node_modules, builds the release binaries, runs
# client/benches/peer.rs and prints its markdown tables. About 5-10 minutes
# on 2 cores once everything is built.
#
# Knobs (environment): GRIDSYNC_PEER_DEVICES, GRIDSYNC_PEER_RECORDS,
# GRIDSYNC_PEER_GRIDS, GRIDSYNC_PEER_CONCURRENCY, GRIDSYNC_PEER_SYSTEMS,
# GRIDSYNC_PEER_SEED, GRIDSYNC_BENCH_SERVER, GRIDSYNC_BENCH_DIR (see the
# bench's header).
set -euo pipefail
cd "$(dirname "$0")/../.."
peer=client/benches/peer

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing nodejs and npm from Debian" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

installed=$(node -p "require('./$peer/node_modules/pouchdb-server/package.json').version" 2>/dev/null || true)
if [ "$installed" != "4.2.0" ]; then
  echo "installing pouchdb-server 4.2.0 into $peer/node_modules" >&2
  # --ignore-scripts: leveldown ships its prebuilt binding in the package
  # (node-gyp-build finds it at run time); the optional sqlite3 adapter
  # would try to download or compile one and is not used.
  (cd "$peer" && npm install --no-audit --no-fund --ignore-scripts --no-package-lock --loglevel=error)
fi

echo "## machine" >&2
{
  echo "nproc: $(nproc)"
  free -h | sed -n 2p
  uname -sr
  rustc --version
  echo "node $(node --version), npm $(npm --version), pouchdb-server $(node -p "require('./$peer/node_modules/pouchdb-server/package.json').version")"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    echo "tree: $(git rev-parse --short HEAD) ($(git status --porcelain | wc -l) paths changed)"
  else
    echo "tree: not a git checkout"
  fi
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2

cargo build --release -q -p gridsync-server -p gridsync-client --bins
cargo bench -q -p gridsync-client --bench peer
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
