// The field app's protocol module against the Rust core: the conformance
// vectors `sync-core/tests/conformance.rs` writes on every `cargo test`
// (target/conformance/vectors.json, or GRIDSYNC_VECTORS). For each scenario:
// every device builds the very change the core built from the same replica;
// a replica fed the same delivery (shuffled, duplicated) holds the same
// stored state and shows the same view; two partial replicas' states joined
// give the same; every stored state round-trips.
//
// `node --test tests/js/` (after `cargo test -p gridsync-core --test conformance`).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { Device, Replica, fromStored, newId, schemaIndex, toStored, view, canonical } from "../../server/assets/app/protocol.js";

const here = dirname(fileURLToPath(import.meta.url));
const path = process.env.GRIDSYNC_VECTORS || join(here, "../../target/conformance/vectors.json");
const doc = JSON.parse(readFileSync(path, "utf8"));
const schema = schemaIndex(doc.schema);

// Compared by content: object keys in any order, arrays in order.
const same = (actual, expected, what) => assert.equal(canonical(actual), canonical(expected), what);

function statesOf(replica) {
  const out = {};
  for (const rec of replica.records.values()) out[rec.id] = toStored(rec);
  return out;
}

function viewsOf(replica) {
  const out = {};
  for (const rec of replica.records.values()) out[rec.id] = view(schema, rec);
  return out;
}

test("the vectors are there and cover every op", () => {
  assert.ok(doc.scenarios.length >= 100, `${doc.scenarios.length} scenarios`);
  const kinds = new Set();
  for (const s of doc.scenarios) {
    for (const st of s.steps) if (st.change) for (const op of st.change.ops) kinds.add(Object.keys(op)[0]);
    for (const c of s.changes || []) for (const op of c.ops) kinds.add(Object.keys(op)[0]);
  }
  for (const k of ["set", "members", "append", "escalate", "increment", "delete", "restore"]) assert.ok(kinds.has(k), `no ${k} op in the vectors`);
});

for (const s of doc.scenarios) {
  test(`conformance: ${s.name}`, () => {
    // The devices build the core's changes from their own replicas.
    const devices = new Map();
    const made = s.changes ? [...s.changes] : [];
    for (const [i, st] of s.steps.entries()) {
      if (!devices.has(st.device)) devices.set(st.device, new Device(schema, st.actor));
      const d = devices.get(st.device);
      if (st.receive) {
        for (const k of st.receive) d.receive(made[k]);
      } else if (st.merge) {
        for (const state of st.merge) d.replica.merge(fromStored(schema, state));
      } else {
        const change = st.make.delete ? d.delete(st.make.record) : d.make(st.make);
        same(change, st.change, `step ${i}: the change device ${st.device} builds`);
        made.push(st.change);
      }
    }
    // A replica fed the delivery holds the core's states and views.
    const r = new Replica(schema);
    for (const k of s.order) r.apply(made[k]);
    same(statesOf(r), s.states, "stored states after the delivery");
    same(viewsOf(r), s.views, "views after the delivery");
    // States round-trip.
    for (const [id, state] of Object.entries(s.states)) {
      same(toStored(fromStored(schema, state)), state, `${id} round-trips`);
      same(view(schema, fromStored(schema, state)), s.views[id], `${id} reads the same from its state`);
    }
    // Two partial replicas, joined state by state.
    if (s.split) {
      const joined = new Replica(schema);
      for (const st of Object.values(s.split.a)) joined.merge(fromStored(schema, st));
      for (const st of Object.values(s.split.b)) joined.merge(fromStored(schema, st));
      same(statesOf(joined), s.states, "two partial replicas joined");
    }
  });
}

test("a value is refused on the phone exactly as the core refuses it", async () => {
  const { checkValue } = await import("../../server/assets/app/protocol.js");
  assert.ok(doc.values.length >= 30);
  for (const v of doc.values) {
    const def = schema.collections.get(v.collection).fields.get(v.field);
    assert.equal(checkValue(def, v.value), v.refused, `${v.collection}.${v.field} = ${JSON.stringify(v.value)}`);
  }
});

test("a new id is a UUID v7 of its time, and later ids sort later", () => {
  const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const id = newId(0x0123456789ab);
  assert.match(id, shape);
  assert.ok(id.startsWith("01234567-89ab-7"), id);
  const ids = [];
  for (let t = 1764633600000; t < 1764633600000 + 50; t++) ids.push(newId(t));
  ids.forEach((x) => assert.match(x, shape));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  assert.match(newId(), shape);
});
