// docs/PROTOCOL.md in JavaScript, for the field app: clocks, the record
// state and its joins, applying changes and states, reading a record (values,
// conflicts, members, logs), the stored form (format 2), and a device that
// builds its changes from its own replica. Proven equal to the Rust core by
// the conformance vectors `sync-core/tests/conformance.rs` writes
// (`node --test tests/js/`). No dependencies; runs in a browser and in Node.

export const LEVELS = ["grid", "community", "park", "district"];

// ---- ids ----------------------------------------------------------------------

/** A new id for a record or a log entry: a UUID v7 (RFC 9562), its first 48
 *  bits the time in milliseconds, the rest random. Ids made later sort later,
 *  so the server's indexes of record ids take new records at their ends
 *  (docs/PROTOCOL.md, the change's `record`). `crypto.getRandomValues` works
 *  on plain http too, where `crypto.randomUUID` does not. */
export function newId(now = Date.now()) {
  const b = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 6; i++) b[i] = Math.floor(now / 2 ** (8 * (5 - i))) % 256;
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

// ---- clocks: {"<actor>": seq} ------------------------------------------------

export const get = (c, actor) => (c && c[actor]) || 0;

/** Whether clock `a` is covered by clock `b` (every entry of a <= b's). */
export function covered(a, b) {
  for (const [k, v] of Object.entries(a)) if (v > get(b, k)) return false;
  return true;
}

const equalClocks = (a, b) => covered(a, b) && covered(b, a);
const strictlyCovered = (a, b) => covered(a, b) && !equalClocks(a, b);

/** The join of clocks: per actor the larger seq. */
export function join(...clocks) {
  const out = {};
  for (const c of clocks) for (const [k, v] of Object.entries(c || {})) if (v > (out[k] || 0)) out[k] = v;
  return out;
}

// Entries of `c` that `base` does not cover.
const without = (c, base) => Object.fromEntries(Object.entries(c).filter(([k, v]) => get(base, k) < v));
// Entries equal in both.
const intersection = (a, b) => Object.fromEntries(Object.entries(a).filter(([k, v]) => b[k] === v));
const empty = (c) => Object.keys(c).length === 0;

// JSON values compared by content (object keys in any order).
export function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  return JSON.stringify(v === undefined ? null : v);
}
const same = (a, b) => canonical(a) === canonical(b);

// Strings in byte (UTF-8) order, as Rust sorts them.
const encoder = new TextEncoder();
export function byteOrder(a, b) {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// ---- the schema ------------------------------------------------------------------

/** The schema document (`GET /v1/schema`) indexed for the merge. */
export function schemaIndex(doc) {
  const collections = new Map();
  for (const c of doc.collections) {
    const fields = new Map(c.fields.map((f) => [f.name, f]));
    collections.set(c.name, { def: c, fields, cases: c.fields.some((f) => f.kind === "level") });
  }
  return { version: doc.version, collections, doc };
}

function fieldDef(schema, collection, name) {
  const c = schema.collections.get(collection);
  const f = c && c.fields.get(name);
  if (!f) throw new Error(`unknown field ${collection}.${name}`);
  return f;
}

// ---- a record's state ----------------------------------------------------------------

/** An empty record. Field states: {reg: [{clock, value, actor, seq}]},
 *  {set: {clock, entries}}, {log: Map id → entry}, {counter: clock}. */
export function newRecord(id, collection, grid) {
  return { id, collection, grid, level: "grid", live: {}, deletes: {}, fields: {} };
}

function field(schema, rec, name) {
  if (!rec.fields[name]) {
    const kind = fieldDef(schema, rec.collection, name).kind;
    rec.fields[name] = kind === "scalar" ? { reg: [] } : kind === "set" ? { set: { clock: {}, entries: {} } }
      : kind === "log" ? { log: new Map() } : kind === "counter" ? { counter: {} } : null;
    if (!rec.fields[name]) throw new Error(`field ${name} holds no state`);
  }
  return rec.fields[name];
}

// A register write (crdts MVReg `Put`): drop what the clock covers, keep the
// value unless a held one strictly covers it.
function put(reg, v) {
  const kept = reg.filter((x) => !covered(x.clock, v.clock));
  if (!kept.some((x) => strictlyCovered(v.clock, x.clock))) kept.push(v);
  return kept;
}

// Two registers joined (crdts MVReg `merge`).
function mergeRegs(ours, theirs) {
  const mine = ours.filter((x) => !theirs.some((y) => strictlyCovered(x.clock, y.clock)));
  const add = theirs.filter((y) => !mine.some((x) => strictlyCovered(y.clock, x.clock)))
    .filter((y) => mine.every((x) => !equalClocks(x.clock, y.clock)));
  return mine.concat(add);
}

/** Two set states joined (crdts Orswot `merge`; PROTOCOL.md "Joining set states"). */
export function mergeSets(a, b) {
  if ((a.deferred && a.deferred.length) || (b.deferred && b.deferred.length)) throw new Error("deferred removes are not supported");
  const entries = {};
  for (const [m, clock] of Object.entries(a.entries)) {
    if (b.entries[m]) continue;
    if (covered(clock, b.clock)) continue; // b saw it and removed it
    const kept = without(clock, b.clock);
    if (!empty(kept)) entries[m] = kept;
  }
  for (const [m, clock] of Object.entries(b.entries)) {
    const ours = a.entries[m];
    if (ours) {
      const common = join(intersection(clock, ours), without(clock, a.clock), without(ours, b.clock));
      if (!empty(common)) entries[m] = common;
    } else if (!covered(clock, a.clock)) {
      const kept = without(clock, a.clock);
      if (!empty(kept)) entries[m] = kept;
    }
  }
  return { clock: join(a.clock, b.clock), entries };
}

const levelMax = (a, b) => (LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b);

/** Join one change into a record (PROTOCOL.md "Applying a change", step 3). */
export function applyChange(schema, rec, change) {
  const { actor, seq } = change;
  for (const op of change.ops) {
    const [kind, o] = Object.entries(op)[0];
    switch (kind) {
      case "set": {
        const f = field(schema, rec, o.field);
        f.reg = put(f.reg, { clock: { ...(o.seen || {}), [actor]: seq }, value: o.value, actor, seq });
        break;
      }
      case "members": {
        const f = field(schema, rec, o.field);
        f.set = mergeSets(f.set, o.state);
        break;
      }
      case "append": {
        const f = field(schema, rec, o.field);
        if (!f.log.has(o.entry.id)) f.log.set(o.entry.id, { id: o.entry.id, at: o.entry.at, fields: o.entry.fields, actor, seq });
        break;
      }
      case "escalate": rec.level = levelMax(rec.level, o.to); break;
      case "increment": {
        const f = field(schema, rec, o.field);
        if (o.total > get(f.counter, actor)) f.counter[actor] = o.total;
        break;
      }
      case "delete": rec.deletes = join(rec.deletes, o.seen || {}); break;
      case "restore": break;
      default: throw new Error(`unknown op ${kind}`);
    }
  }
  if (!change.ops.length || Object.keys(change.ops[0])[0] !== "delete") rec.live = join(rec.live, { [actor]: seq });
  return rec;
}

/** Join another replica's state of the same record into `rec`. */
export function mergeRecord(schema, rec, other) {
  for (const [name, theirs] of Object.entries(other.fields)) {
    const ours = field(schema, rec, name);
    if (theirs.reg) ours.reg = mergeRegs(ours.reg, theirs.reg);
    else if (theirs.set) ours.set = mergeSets(ours.set, theirs.set);
    else if (theirs.log) for (const [id, e] of theirs.log) { if (!ours.log.has(id)) ours.log.set(id, e); }
    else if (theirs.counter) ours.counter = join(ours.counter, theirs.counter);
  }
  rec.level = levelMax(rec.level, other.level);
  rec.live = join(rec.live, other.live);
  rec.deletes = join(rec.deletes, other.deletes);
  return rec;
}

export const isDeleted = (rec) => !empty(rec.deletes) && covered(rec.live, rec.deletes);

// ---- reading ----------------------------------------------------------------------------

// An RFC 3339 time as [seconds, nanoseconds] since the epoch; null if it is none.
export function instant(s) {
  const m = typeof s === "string" && /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return null;
  const secs = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
  const offset = m[8] ? 0 : (m[9] === "-" ? -1 : 1) * (+m[10] * 3600 + +m[11] * 60);
  return [secs - offset, m[7] ? Number(m[7].padEnd(9, "0")) : 0];
}

const cmpNum = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const cmpInstant = (a, b) => {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return cmpNum(a[0], b[0]) || cmpNum(a[1], b[1]);
};

/** Where a log entry reads: by its instant, then actor, seq, id. */
export function logOrder(x, y) {
  return cmpInstant(instant(x.at), instant(y.at)) || cmpNum(x.actor, y.actor) || cmpNum(x.seq, y.seq) || byteOrder(x.id, y.id);
}

function scalarView(reg, concurrent) {
  const vals = [...reg].sort((x, y) => cmpNum(x.actor, y.actor) || cmpNum(x.seq, y.seq));
  if (concurrent === "earliest" || concurrent === "latest") {
    let pick = null;
    for (const v of vals) {
      const t = instant(v.value);
      if (t === null) continue;
      const c = pick === null ? 0 : cmpInstant(t, pick.t);
      if (pick === null || (concurrent === "earliest" ? c < 0 : c >= 0)) pick = { v, t };
    }
    if (pick) return { value: pick.v.value };
  }
  let top = null;
  for (const v of vals) if (!top || v.seq > top.seq || (v.seq === top.seq && v.actor > top.actor)) top = v;
  const out = { value: top ? top.value : null };
  if (vals.slice(1).some((v) => !same(v.value, vals[0].value))) out.conflict = vals.map((v) => ({ value: v.value, actor: v.actor, seq: v.seq }));
  return out;
}

/** What a user sees (PROTOCOL.md "Reading a record"). */
export function view(schema, rec) {
  const fields = {};
  for (const [name, f] of Object.entries(rec.fields)) {
    if (f.reg) fields[name] = scalarView(f.reg, fieldDef(schema, rec.collection, name).concurrent);
    else if (f.set) fields[name] = Object.keys(f.set.entries).sort(byteOrder);
    else if (f.log) fields[name] = [...f.log.values()].sort(logOrder);
    else if (f.counter) fields[name] = Object.values(f.counter).reduce((s, n) => s + n, 0);
  }
  const out = { id: rec.id, collection: rec.collection, grid: rec.grid, deleted: isDeleted(rec), fields };
  if (schema.collections.get(rec.collection).cases) out.level = rec.level;
  return out;
}

/** The values a scalar field holds (several in a conflict), for flows. */
export function values(rec, name) {
  const f = rec.fields[name];
  const out = [];
  for (const v of (f && f.reg) || []) if (!out.some((x) => same(x, v.value))) out.push(v.value);
  return out;
}

// ---- the stored form (format 2) -----------------------------------------------------------

export function toStored(rec) {
  const fields = {};
  for (const [name, f] of Object.entries(rec.fields)) {
    if (f.reg) {
      fields[name] = {
        reg: [...f.reg].sort((x, y) => cmpNum(x.actor, y.actor) || cmpNum(x.seq, y.seq)).map((v) => {
          const seen = { ...v.clock };
          const own = seen[v.actor];
          delete seen[v.actor];
          const out = { value: v.value, actor: v.actor, seq: v.seq };
          if (own === v.seq) { if (!empty(seen)) out.seen = seen; } else out.clock = { ...v.clock };
          return out;
        }),
      };
    } else if (f.set) fields[name] = { set: { clock: { ...f.set.clock }, entries: { ...f.set.entries } } };
    else if (f.log) fields[name] = { log: [...f.log.values()].sort((x, y) => byteOrder(x.id, y.id)) };
    else if (f.counter) fields[name] = { counter: { ...f.counter } };
  }
  const out = { format: 2, id: rec.id, collection: rec.collection, grid: rec.grid, fields };
  if (rec.level !== "grid") out.level = rec.level;
  if (!empty(rec.live)) out.live = { ...rec.live };
  if (!empty(rec.deletes)) out.deletes = { ...rec.deletes };
  return out;
}

export function fromStored(schema, s) {
  if (s.format !== 2 && s.format !== 1) throw new Error(`stored form ${s.format} is not known`);
  if (!schema.collections.has(s.collection)) throw new Error(`unknown collection ${s.collection}`);
  const rec = newRecord(s.id, s.collection, s.grid);
  rec.level = s.level || "grid";
  rec.live = { ...(s.live || {}) };
  rec.deletes = { ...(s.deletes || {}) };
  for (const [name, f] of Object.entries(s.fields)) {
    fieldDef(schema, s.collection, name);
    if (f.reg) {
      let reg = [];
      for (const v of f.reg) reg = put(reg, { clock: v.clock ? { ...v.clock } : { ...(v.seen || {}), [v.actor]: v.seq }, value: v.value, actor: v.actor, seq: v.seq });
      rec.fields[name] = { reg };
    } else if (f.set) rec.fields[name] = { set: mergeSets({ clock: {}, entries: {} }, f.set) };
    else if (f.log) rec.fields[name] = { log: new Map(f.log.map((e) => [e.id, e])) };
    else if (f.counter) rec.fields[name] = { counter: { ...f.counter } };
  }
  return rec;
}

// ---- a replica, and a device that builds changes ----------------------------------------

export class Replica {
  constructor(schema) {
    this.schema = schema;
    this.records = new Map();
  }

  /** Join a change (a record is created by its first change). */
  apply(change) {
    let rec = this.records.get(change.record);
    if (!rec) {
      rec = newRecord(change.record, change.collection, change.grid);
      this.records.set(change.record, rec);
    } else if (rec.collection !== change.collection || rec.grid !== change.grid) {
      throw new Error(`record_mismatch: ${change.record} is a ${rec.collection} of ${rec.grid}`);
    }
    applyChange(this.schema, rec, change);
    return rec;
  }

  /** Join a record state from elsewhere (a pull of states). */
  merge(state) {
    const rec = this.records.get(state.id);
    if (!rec) this.records.set(state.id, state);
    else mergeRecord(this.schema, rec, state);
  }
}

export class Device {
  constructor(schema, actor, nextSeq = 1, replica = new Replica(schema)) {
    this.schema = schema;
    this.actor = actor;
    this.nextSeq = nextSeq;
    this.replica = replica;
  }

  receive(change) { return this.replica.apply(change); }

  /** Build, apply and return the change `{record, create?: {collection, grid},
   *  ops: [{set: [f, v]} | {add: [f, m]} | {remove: [f, m]} | {append: [f, entry]}
   *  | {escalate: level} | {increment: [f, by]} | {restore: true}]}`
   *  (the core's `Device::create`/`edit`: ops are built from this replica). */
  make({ record, create, ops }) {
    const rec = this.replica.records.get(record);
    const collection = rec ? rec.collection : create.collection;
    const grid = rec ? rec.grid : create.grid;
    const actor = this.actor;
    const seq = this.nextSeq;
    const out = [];
    const members = new Map();
    for (const op of ops) {
      const [kind, a] = Object.entries(op)[0];
      if (kind === "set") {
        const reg = rec && rec.fields[a[0]] ? rec.fields[a[0]].reg : [];
        const seen = join(...reg.map((v) => v.clock));
        const o = { field: a[0], value: a[1] };
        if (!empty(seen)) o.seen = seen;
        out.push({ set: o });
      } else if (kind === "add" || kind === "remove") {
        if (!members.has(a[0])) members.set(a[0], { add: [], remove: [] });
        members.get(a[0])[kind].push(a[1]);
      } else if (kind === "append") out.push({ append: { field: a[0], entry: a[1] } });
      else if (kind === "escalate") out.push({ escalate: { from: rec ? rec.level : "grid", to: a } });
      else if (kind === "increment") {
        const c = rec && rec.fields[a[0]] ? rec.fields[a[0]].counter : {};
        out.push({ increment: { field: a[0], by: a[1], total: get(c, actor) + a[1] } });
      } else if (kind === "restore") out.unshift({ restore: {} });
      else throw new Error(`unknown intent ${kind}`);
    }
    // One op per set field, in field order, carrying its whole state.
    for (const name of [...members.keys()].sort(byteOrder)) {
      const uniq = (xs) => [...new Set(xs)].sort(byteOrder);
      const add = uniq(members.get(name).add);
      const remove = uniq(members.get(name).remove);
      const cur = rec && rec.fields[name] ? rec.fields[name].set : { clock: {}, entries: {} };
      const state = { clock: { ...cur.clock }, entries: Object.fromEntries(Object.entries(cur.entries).map(([m, c]) => [m, { ...c }])) };
      if (add.length && get(state.clock, actor) < seq) {
        for (const m of add) state.entries[m] = join(state.entries[m] || {}, { [actor]: seq });
        state.clock = join(state.clock, { [actor]: seq });
      }
      for (const m of remove) delete state.entries[m];
      const o = { field: name };
      if (add.length) o.add = add;
      if (remove.length) o.remove = remove;
      o.state = state;
      out.push({ members: o });
    }
    return this.commit(record, collection, grid, out);
  }

  /** A soft delete: alone in its change, with the edit context seen. */
  delete(record) {
    const rec = this.replica.records.get(record);
    if (!rec) throw new Error(`unknown_record ${record}`);
    const o = {};
    if (!empty(rec.live)) o.seen = { ...rec.live };
    return this.commit(record, rec.collection, rec.grid, [{ delete: o }]);
  }

  commit(record, collection, grid, ops) {
    const change = { actor: this.actor, seq: this.nextSeq, record, collection, grid, schema: this.schema.version, ops };
    this.replica.apply(change);
    this.nextSeq += 1;
    return change;
  }
}

// ---- the checks of a scalar value, before anything is saved ---------------------------
// The core's `validate::check_scalar`, for the forms: the code it would
// refuse the value with, or null. Proven against the core's `values` vectors.

const PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
  "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"];

export function idCheck(first17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * w[i];
  return "10X98765432"[sum % 11];
}

function realDate(y, m, d) {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

export function isIdNumber(s) {
  if ([...s].length !== 18 || !/^\d{17}/.test(s)) return false;
  if (!PROVINCES.includes(s.slice(0, 2))) return false;
  const y = +s.slice(6, 10);
  if (y < 1900 || !realDate(y, +s.slice(10, 12), +s.slice(12, 14))) return false;
  return s[17] === idCheck(s.slice(0, 17));
}

function isMasked(s) {
  const c = [...s];
  const n = c.length;
  const [head, tail] = n >= 15 ? [6, 4] : n >= 8 ? [3, 4] : [0, 0];
  return n > head + tail && c.every((ch, i) => (ch === "*") === (i >= head && i < n - tail));
}

export function isPhone(s) {
  const rest = s.startsWith("+86") ? s.slice(3).replace(/^[ -]+/, "") : s;
  const digits = rest.replace(/-/g, "");
  if (!/^\d*$/.test(digits) || (rest.match(/-/g) || []).length > 1) return false;
  if (digits[0] === "1") return digits.length === 11 && digits[1] >= "3" && digits[1] <= "9" && !rest.includes("-");
  if (digits[0] === "0") return digits.length >= 10 && digits.length <= 12;
  return false;
}

function isAssignee(s) {
  const i = s.indexOf(":");
  let name = s;
  if (i >= 0) {
    const kind = s.slice(0, i);
    if (kind !== "user" && kind !== "department") return false;
    name = s.slice(i + 1);
  }
  return name.length > 0 && [...name].length <= 64 && !/[\s\p{Cc}]/u.test(name);
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const DECIMAL = /^-?\d{1,18}(\.\d{1,6})?$/;

/** The code the core refuses `value` for the scalar field `def` with, or null. */
export function checkValue(def, value) {
  if (value === null || value === undefined) return null;
  const text = typeof value === "string";
  switch (def.type) {
    case "text":
      if (!text) return "wrong_type";
      if (value.includes("\0")) return "invalid_text";
      return [...value].length > def.max_len ? "too_long" : null;
    case "integer":
      if (!Number.isInteger(value)) return "wrong_type";
      return value < def.min || value > def.max ? "out_of_range" : null;
    case "decimal": return text && DECIMAL.test(value) ? null : "wrong_type";
    case "bool": return typeof value === "boolean" ? null : "wrong_type";
    case "date": {
      const m = text && /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
      return m && realDate(+m[1], +m[2], +m[3]) ? null : "wrong_type";
    }
    case "datetime": return instant(value) === null ? "wrong_type" : null;
    case "enum":
      if (!text) return "wrong_type";
      return (def.values || []).includes(value) ? null : "value_not_allowed";
    case "ref": return text && UUID.test(value) ? null : "wrong_type";
    case "geo":
      if (!value || typeof value !== "object" || typeof value.lat !== "number") return "wrong_type";
      return Math.abs(value.lat) > 90 || Math.abs(value.lng) > 180 ? "out_of_range" : null;
    case "id_number":
      if (!text) return "wrong_type";
      return isMasked(value) || isIdNumber(value) ? null : "invalid_id_number";
    case "phone":
      if (!text) return "wrong_type";
      return isMasked(value) || isPhone(value) ? null : "invalid_phone";
    case "assignee":
      if (!text) return "wrong_type";
      return isAssignee(value) ? null : "invalid_assignee";
    default: return null;
  }
}
