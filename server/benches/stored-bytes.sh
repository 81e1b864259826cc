#!/usr/bin/env bash
# Bytes per record state as a first pull sends them: seed the 300-grid
# district into a temp SQLite store and measure every stored form, as
# written (the current format) and re-encoded in format 1 (each register
# value with its whole clock). Prints one line.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gridsync-server
dir=$(mktemp -d /tmp/gridsync-bytes.XXXXXX)
trap 'rm -rf "$dir"' EXIT
target/release/gridsync seed --fixture district --database-url "$dir/g.db" >/dev/null
python3 - "$dir/g.db" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = now = v1 = 0
for (state,) in c.execute("SELECT state FROM records"):
    n += 1
    now += len(state.encode())
    r = json.loads(state)
    for f in r["fields"].values():
        for v in f.get("reg", []):
            if "clock" not in v:
                clock = dict(v.pop("seen", {}))
                clock[str(v["actor"])] = v["seq"]
                value = {"clock": clock, "value": v["value"], "actor": v["actor"], "seq": v["seq"]}
                v.clear()
                v.update(value)
    r["format"] = 1
    v1 += len(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode())
print(f"{n} records: {now / n:.0f} B per record state as stored now, "
      f"{v1 / n:.0f} B in format 1 ({100 * (1 - now / v1):.1f}% less)")
PY
