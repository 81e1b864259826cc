// The field app (issue 18): grid workers, patrols, mediators and police on a
// phone's browser, offline first. Sign in once (the app registers itself as
// a device: its own actor and device-bound tokens), then work with or
// without a network: records and the outbox live in IndexedDB (store.js),
// changes are built by the same protocol the core speaks (protocol.js),
// and a sync pushes the outbox, then pulls, page by page, when the phone is
// back online and whenever the user asks. Forms come from the schema.

import { h } from "/app/dom.js";
import { open } from "/app/store.js";
import { Device, Replica, applyChange, checkValue, fromStored, mergeRecord, newId, schemaIndex, toStored, view, values } from "/app/protocol.js";

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("gridsync.app.lang") === "en" ? "en" : "zh";
const t = (zh, en) => (lang === "en" ? en : zh);
const L = (label) => (label ? (lang === "en" ? label.en || label.zh : label.zh || label.en) : "");


let store;
let schema = null; // schemaIndex of the saved schema document
let me = null; // {user, device, actor}

function status(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

// ---- the API, as this device --------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message || code || String(status)); this.status = status; this.code = code; }
}

async function call(path, { method = "GET", body, token } = {}) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, json.code, json.message);
  return json;
}

// With the device's token; an expired one is refreshed once.
async function api(path, opts = {}) {
  try {
    return await call(path, { ...opts, token: await store.get("access") });
  } catch (e) {
    if (e.status !== 401 || e.code !== "token_expired") throw e;
    let pair;
    try {
      pair = await call("/v1/auth/refresh", { method: "POST", body: { refresh_token: await store.get("refresh") } });
    } catch (r) {
      // The refresh token ran out too (60 days) or was spent: the user's
      // password signs this same device in again (its actor, its outbox).
      if (r.status === 401) throw new ApiError(401, "sign_in_again", r.message);
      throw r;
    }
    await store.set({ access: pair.access_token, refresh: pair.refresh_token });
    return call(path, { ...opts, token: pair.access_token });
  }
}

// ---- signing in: an account and a device -------------------------------------------

async function signIn(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const login = await call("/v1/auth/login", { method: "POST", body: { username: $("username").value.trim(), password: $("password").value } });
    const name = `${login.user.full_name || login.user.username} · ${t("网页应用", "web app")}`;
    const dev = await call("/v1/devices", { method: "POST", body: { name }, token: login.access_token });
    const doc = await call("/v1/schema");
    const tree = await call("/v1/org/nodes", { token: dev.access_token });
    await store.set({
      user: login.user, device: dev.device.id, actor: dev.device.actor, next_seq: 1,
      access: dev.access_token, refresh: dev.refresh_token, schema: doc, grids: gridsUnder(tree.nodes, login.user.node),
      cursor: null, resume: null,
    });
    $("password").value = "";
    await start();
    sync();
  } catch (e) {
    $("login-error").textContent = e.code === "invalid_credentials" ? t("账号或密码不对", "Wrong username or password")
      : t("登录失败：", "Sign-in failed: ") + e.message;
  }
}

function gridsUnder(nodes, root) {
  const kids = new Map();
  for (const n of nodes) { if (!kids.has(n.parent)) kids.set(n.parent, []); kids.get(n.parent).push(n); }
  const out = [];
  const walk = (n) => { if (n.level === "grid") out.push({ code: n.code, name: n.name }); for (const k of kids.get(n.code) || []) walk(k); };
  const start = nodes.find((n) => n.code === root);
  if (start) walk(start);
  return out;
}

// ---- sync: push, then pull page by page ----------------------------------------------

let syncing = null;
let again = false;

// One sync at a time. A sync asked for while one runs (同步 pressed, a
// change saved) runs once more after it: the running one may have read
// the outbox, or said "synced", before the ask. The promise settles when
// both are done.
export function sync() {
  if (syncing) { again = true; return syncing; }
  syncing = (async () => {
    do { again = false; await run(); } while (again);
  })().finally(() => { syncing = null; });
  return syncing;
}

async function run() {
  if (!me) return;
  if (!navigator.onLine) { await refreshBar(); return; }
  status(t("同步中…", "Syncing…"), "syncing");
  let relocated = false;
  try {
    for (let round = 0; round < 1000; round++) {
      const outbox = (await store.all("outbox")).sort((a, b) => a.seq - b.seq).slice(0, 500);
      // The grids this phone holds, named, so that a user moved elsewhere
      // while offline is told which ones stopped (the answer's `skipped`).
      const mine = grids.map((g) => g.code);
      // The inbox kept, named by its digest: while it stays the same the
      // answer says `inbox_unchanged` instead of sending it again.
      const kept = await store.get("inbox");
      const answer = await api("/v1/sync", {
        method: "POST",
        body: {
          actor: me.actor, cursor: await store.get("cursor"), resume: await store.get("resume") || undefined,
          grids: mine.length && mine.length <= 100 ? mine : undefined, changes: outbox, limit: 500,
          inbox_digest: (kept && kept.digest) || undefined,
        },
      });
      const bySeq = new Map(outbox.map((c) => [c.seq, c]));
      const acknowledged = [];
      const refused = [];
      for (const r of answer.results || []) {
        if (r.status === "refused") refused.push({ change: bySeq.get(r.seq), code: r.code, message: r.message, field: r.field });
        else acknowledged.push(r.seq);
      }
      const states = await pulled(answer);
      const meta = {};
      // Kept until read (moved()'s 知道了): after the move the next sync
      // names only the new grids, and a notice gone by then was never seen.
      if (answer.skipped && answer.skipped.length) { meta.skipped = answer.skipped; relocated = true; }
      if ("cursor" in answer) meta.cursor = answer.cursor;
      meta.resume = answer.resume || null;
      if (answer.inbox) meta.inbox = answer.inbox;
      meta.last_sync = new Date().toISOString();
      await store.synced({ acknowledged, refused, states, meta });
      if (!answer.more && (await store.count("outbox")) === 0) break;
      if (!answer.more && !outbox.length) break;
    }
    await uploadPhotos();
    if (relocated) await relocate();
    status(t("已同步", "Synced"), "ready");
  } catch (e) {
    if (e.code === "device_revoked") { revoked(); return; }
    if (e.code === "sign_in_again") { signInAgain(); return; }
    status(t("同步未完成：", "Sync not finished: ") + (e.code || e.message), "error");
  }
  await refreshBar();
  await moved();
  // Show what arrived, unless the person is filling in a form: a sync in
  // the background never wipes what they are typing.
  if (!editing) route();
}

// After weeks offline both tokens ran out: the password signs the same
// device in again (`POST /v1/auth/login` with the device): same actor, the
// outbox goes on as it was.
async function signInAgain() {
  status(t("登录已过期，请输入密码继续同步（手机上的修改都在）。", "Signed out after a long time offline: enter your password to sync on (your changes are all here)."), "sign-in-again");
  const password = h("input", { id: "again-password", type: "password", autocomplete: "current-password" });
  const said = h("p", { role: "status", id: "again-result" });
  const form = h("form", { id: "again-form", class: "form" },
    h("h2", {}, t("重新登录", "Sign in again")),
    h("p", {}, me.user.full_name || me.user.username),
    h("label", {}, t("密码", "Password"), password),
    h("button", { type: "submit", class: "primary" }, t("登录并同步", "Sign in and sync")), said);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const login = await call("/v1/auth/login", { method: "POST", body: { username: me.user.username, password: password.value, device: await store.get("device") } });
      await store.set({ access: login.access_token, refresh: login.refresh_token });
      await sync();
    } catch (e) {
      said.textContent = e.code === "invalid_credentials" ? t("密码不对", "Wrong password") : (e.code || "") + " " + e.message;
      said.dataset.state = "error";
    }
  });
  $("view").replaceChildren(form);
}

// The user was moved to another node while offline: learn the node (the
// device list names its user's node now) and its grids; the next sync
// pulls them.
async function relocate() {
  const devices = await api("/v1/devices");
  const id = await store.get("device");
  const node = ((devices.devices || []).find((d) => d.id === id) || {}).node;
  if (!node) return;
  const tree = await api("/v1/org/nodes");
  const moved = gridsUnder(tree.nodes, node);
  me.user = { ...me.user, node };
  grids = moved;
  await store.set({ user: me.user, grids: moved });
}

// Whether a form of the current screen has been typed into.
let editing = false;

// The photos whose changes the server acknowledged, in resumable chunks
// (PROTOCOL.md "Attachments": ask, then send from the acknowledged offset).
async function uploadPhotos() {
  const waiting = new Set((await store.all("outbox")).map((c) => c.seq));
  const refused = new Set((await store.all("refused")).map((r) => r.seq));
  for (const p of await store.all("photos")) {
    if (waiting.has(p.seq) || refused.has(p.seq)) continue;
    let s = await api("/v1/attachments", { method: "POST", body: { sha256: p.sha256, media_type: p.media_type, size: p.size } });
    while (s.state !== "stored") {
      const chunk = p.blob.slice(s.offset, Math.min(p.size, s.offset + (s.chunk_size || 1048576)));
      const res = await fetch(`/v1/attachments/uploads/${s.upload}`, {
        method: "PATCH", body: chunk,
        headers: { Authorization: "Bearer " + (await store.get("access")), "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(s.offset) },
      });
      const j = await res.json().catch(() => ({}));
      if (!res.ok) throw new ApiError(res.status, j.code, j.message);
      s = j;
    }
    await store.uploaded(p.sha256);
  }
}

// A page's records as their new stored states: pulled changes applied, or
// pulled states joined, into what this phone holds. What the phone holds
// of them is read in one transaction; a state of a record it does not hold
// yet is kept as it came (it is the stored form already).
async function pulled(answer) {
  const changes = answer.changes || [];
  const states = answer.records || [];
  const ids = [...new Set(changes.map((c) => c.record).concat(states.map((s) => s.id)))];
  const held = await store.many(ids);
  const touched = new Map();
  const raw = new Map();
  ids.forEach((id, i) => { if (held[i]) touched.set(id, fromStored(schema, held[i])); });
  for (const s of states) {
    const rec = touched.get(s.id);
    if (rec) {
      const theirs = fromStored(schema, s);
      if (rec.collection === theirs.collection && rec.grid === theirs.grid) mergeRecord(schema, rec, theirs);
    } else if (raw.has(s.id)) {
      touched.set(s.id, mergeRecord(schema, fromStored(schema, raw.get(s.id)), fromStored(schema, s)));
      raw.delete(s.id);
    } else {
      raw.set(s.id, s);
    }
  }
  for (const c of changes) {
    let rec = touched.get(c.record);
    if (!rec && raw.has(c.record)) { rec = fromStored(schema, raw.get(c.record)); raw.delete(c.record); touched.set(c.record, rec); }
    if (!rec) { rec = { id: c.record, collection: c.collection, grid: c.grid, level: "grid", live: {}, deletes: {}, fields: {} }; touched.set(c.record, rec); }
    if (rec.collection !== c.collection || rec.grid !== c.grid) continue; // record_mismatch: left aside
    applyChange(schema, rec, c);
  }
  return [...touched.values()].map(toStored).concat([...raw.values()]);
}

// ---- making changes ---------------------------------------------------------------------

async function make(intent, photos = []) {
  const replica = new Replica(schema);
  const s = await store.record(intent.record);
  if (s) replica.records.set(s.id, fromStored(schema, s));
  const device = new Device(schema, me.actor, await store.get("next_seq"), replica);
  const change = intent.delete ? device.delete(intent.record) : device.make(intent);
  await store.made(change, toStored(replica.records.get(intent.record)), device.nextSeq, photos);
  await refreshBar();
  if (navigator.onLine) sync();
  return change;
}

// ---- screens ------------------------------------------------------------------------------

const collections = () => schema.doc.collections.filter((c) => c.written_by.includes(me.user.role) || c.read_by.includes(me.user.role));
const writable = (c) => c.written_by.includes(me.user.role);
const def = (name) => schema.doc.collections.find((c) => c.name === name);

function titleOf(v, c) {
  const f = c.title && c.title.field;
  const x = f && v.fields[f] && v.fields[f].value;
  return x ? String(x) : L(c.label) + " " + v.id.slice(0, 8);
}

function shown(c, f, v) {
  if (v === null || v === undefined) return "";
  if (f.type === "enum" && f.value_labels && f.value_labels[v]) return L(f.value_labels[v]);
  if (typeof v === "object") return v.lat !== undefined ? `${v.lat}, ${v.lng}` : (v.caption || JSON.stringify(v));
  return String(v);
}

// Where each role starts: its own work first.
const START = { patrol: "patrol_round", mediator: "dispute", police: "key_person", grid_worker: "household" };

async function listScreen(main, params) {
  const cs = collections();
  const first = cs.find((c) => c.name === START[me.user.role]) || cs.find(writable) || cs[0] || {};
  const name = params.collection || first.name;
  const c = def(name);
  let recs = (await store.ofCollection(name)).map((s) => view_(s)).filter((v) => !v.deleted);
  // Open cases and rounds first (their flow's terminal statuses last), then by title.
  const closed = (v) => !!(c.flow && v.fields.status && c.flow.terminal.includes(v.fields.status.value));
  recs = recs.sort((a, b) => Number(closed(a)) - Number(closed(b)) || titleOf(a, c).localeCompare(titleOf(b, c)));
  // A round of today (planned for today, or under way) first.
  const today = now().slice(0, 10);
  const ofToday = (v) => name === "patrol_round" && !closed(v)
    && ((v.fields.status && v.fields.status.value === "in_progress") || String((v.fields.planned_start || {}).value || "").slice(0, 10) === today);
  recs = recs.filter(ofToday).concat(recs.filter((v) => !ofToday(v)));
  const todays = recs.filter(ofToday).length;
  main.append(
    h("div", { class: "bar" },
      h("label", {}, t("类别 ", "Kind "), h("select", { id: "collection", "on:change": (e) => go("#/records?collection=" + e.target.value) },
        cs.map((x) => h("option", { value: x.name, selected: x.name === name }, L(x.label))))),
      writable(c) ? h("a", { class: "button", id: "new", href: "#/new?collection=" + name }, t("新建", "New")) : null),
    name === "patrol_round" ? h("p", { class: "muted", id: "today" }, t(`今天的巡逻 ${todays} 条`, `${todays} rounds today`)) : null,
    recs.length ? h("ul", { class: "list", id: "records" }, recs.map((v) => h("li", { dataset: { id: v.id, today: ofToday(v) ? "yes" : "no" } },
      h("a", { href: "#/record/" + v.id }, titleOf(v, c)),
      h("small", {}, gridName(v.grid), v.fields.status ? " · " + shown(c, c.fields.find((f) => f.name === "status"), v.fields.status.value) : "",
        Object.values(v.fields).some((f) => f && f.conflict) ? h("span", { class: "badge" }, t("冲突", "conflict")) : null))))
      : h("p", { class: "muted" }, t("没有记录。", "No records.")));
}

const view_ = (stored) => view(schema, fromStored(schema, stored));
let grids = [];
const gridName = (code) => (grids.find((g) => g.code === code) || {}).name || code;

// The editable scalar and set fields of a form.
const FORM_TYPES = ["text", "integer", "decimal", "bool", "date", "datetime", "enum", "phone", "id_number", "ref", "assignee"];
const editable = (f) => (f.kind === "scalar" && FORM_TYPES.includes(f.type)) || (f.kind === "set" && !f.refs);

// Records a reference may pick, by collection (loaded with the form).
let refChoices = {};

function input(c, f, current, rec) {
  const id = "f-" + f.name;
  if (f.kind === "set") {
    if (f.values && f.values.length) {
      return h("fieldset", { id }, h("legend", {}, L(f.label)), f.values.map((v) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: f.name, value: v, checked: (current || []).includes(v) }), " ", f.value_labels ? L(f.value_labels[v]) : v)));
    }
    return h("label", {}, L(f.label), h("input", { id, name: f.name, value: (current || []).join("，"), placeholder: t("用逗号分隔", "comma separated") }));
  }
  let control;
  if (f.type === "ref") {
    const options = (refChoices[f.collection] || []);
    control = h("select", { id, name: f.name }, h("option", { value: "" }, "—"),
      options.map((o) => h("option", { value: o.id, selected: o.id === current }, o.title)));
    return h("label", {}, L(f.label), control);
  }
  if (f.type === "enum") {
    let choices = f.values || [];
    // A case's status offers only the moves its flow allows from here.
    if (f.name === "status" && c.flow) {
      const from = rec ? values(rec, "status") : [];
      choices = from.length ? [...new Set([...from, ...from.flatMap((s) => (c.flow.moves.find(([x]) => x === s) || [null, []])[1])])] : c.flow.initial;
    }
    control = h("select", { id, name: f.name }, h("option", { value: "" }, "—"),
      choices.map((v) => h("option", { value: v, selected: v === current }, f.value_labels && f.value_labels[v] ? L(f.value_labels[v]) : v)));
  } else if (f.type === "bool") {
    control = h("select", { id, name: f.name }, h("option", { value: "" }, "—"),
      h("option", { value: "true", selected: current === true }, t("是", "yes")), h("option", { value: "false", selected: current === false }, t("否", "no")));
  } else {
    const type = f.type === "integer" ? "number" : f.type === "date" ? "date" : f.type === "datetime" ? "datetime-local" : "text";
    let value = current ?? "";
    if (f.type === "datetime" && value) value = String(value).slice(0, 16);
    control = h("input", { id, name: f.name, type, value, maxlength: f.max_len || null, inputmode: f.type === "phone" ? "tel" : null });
  }
  return h("label", {}, L(f.label), control);
}

// Why a value is refused, in words (the core's codes).
const WHY = {
  too_long: ["太长", "too long"], out_of_range: ["超出范围", "out of range"], wrong_type: ["格式不对", "wrong format"],
  value_not_allowed: ["不是可选的值", "not one of the choices"], invalid_id_number: ["身份证号不对", "not a valid ID number"],
  invalid_phone: ["电话号码不对", "not a valid phone number"], invalid_assignee: ["承办人不对", "not a valid assignee"],
  invalid_text: ["含有不允许的字符", "holds a character not allowed"],
};

function refusal(label, code) {
  const w = WHY[code] || [code, code];
  return `${L(label)}：${t(w[0], w[1])}`;
}

// A form's values that differ from the record's, as intents.
function intents(c, form, v) {
  const ops = [];
  for (const f of c.fields.filter(editable)) {
    if (f.kind === "set") {
      const now = f.values && f.values.length
        ? [...form.querySelectorAll(`input[name="${f.name}"]:checked`)].map((x) => x.value)
        : (form.elements[f.name].value || "").split(/[,，]/).map((x) => x.trim()).filter(Boolean);
      const before = (v && v.fields[f.name]) || [];
      for (const m of now) if (!before.includes(m)) ops.push({ add: [f.name, m] });
      for (const m of before) if (!now.includes(m)) ops.push({ remove: [f.name, m] });
      continue;
    }
    const raw = form.elements[f.name].value;
    let value = raw === "" ? null : raw;
    if (value !== null && f.type === "integer") value = Number(value);
    if (value !== null && f.type === "bool") value = value === "true";
    if (value !== null && f.type === "datetime") value = value.length === 16 ? value + ":00+08:00" : value;
    const before = v && v.fields[f.name] ? v.fields[f.name].value : null;
    const conflicted = v && v.fields[f.name] && v.fields[f.name].conflict;
    if (JSON.stringify(value) !== JSON.stringify(before ?? null) || (conflicted && value !== null)) ops.push({ set: [f.name, value] });
  }
  return ops;
}

async function formScreen(main, params, id) {
  const stored = id ? await store.record(id) : null;
  const rec = stored ? fromStored(schema, stored) : null;
  const v = rec ? view(schema, rec) : null;
  const c = def(rec ? rec.collection : params.collection);
  const authors = v ? await writers(v) : {};
  refChoices = {};
  for (const f of c.fields.filter((x) => x.type === "ref")) {
    const target = def(f.collection);
    refChoices[f.collection] = (await store.ofCollection(f.collection))
      .map((x) => view_(x)).filter((x) => !x.deleted).map((x) => ({ id: x.id, title: titleOf(x, target) }));
  }
  const form = h("form", { id: "record-form", class: "form" });
  if (!rec) {
    form.append(h("label", {}, t("网格", "Grid"), h("select", { id: "f-grid", name: "grid" }, grids.map((g) => h("option", { value: g.code }, g.name)))));
  }
  for (const f of c.fields.filter(editable)) {
    const cur = v && v.fields[f.name];
    form.append(input(c, f, f.kind === "set" ? cur : cur && cur.value, rec));
    if (cur && cur.conflict) {
      form.append(h("p", { class: "conflict", dataset: { field: f.name } }, t("冲突，选一个：", "Conflict, pick one: "),
        cur.conflict.map((w) => h("button", { type: "button", class: "pick", dataset: { actor: String(w.actor) },
          "on:click": () => { form.elements[f.name].value = w.value ?? ""; } }, `${shown(c, f, w.value)}（${writer(authors, w.actor)}）`))));
    }
  }
  const said = h("p", { id: "form-result", role: "status" });
  form.append(h("button", { type: "submit", id: "save", class: "primary" }, t("保存", "Save")), said);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ops = intents(c, form, v);
    if (!ops.length) { said.textContent = t("没有改动", "Nothing changed"); return; }
    for (const op of ops) {
      if (!op.set) continue;
      const f = c.fields.find((x) => x.name === op.set[0]);
      const code = checkValue(f, op.set[1]);
      if (code) { said.textContent = refusal(f.label, code); said.dataset.state = "error"; return; }
    }
    try {
      const record = rec ? rec.id : newId();
      await make({ record, create: rec ? undefined : { collection: c.name, grid: form.elements.grid.value }, ops });
      go("#/record/" + record);
    } catch (err) {
      said.textContent = t("未保存：", "Not saved: ") + err.message;
    }
  });
  main.append(h("h2", {}, rec ? titleOf(v, c) : t("新建", "New") + " " + L(c.label)), form);
}

// Who wrote a conflict's values: names from the server when online (the
// record's `authors`), actor numbers offline.
async function writers(v) {
  if (!navigator.onLine || !Object.values(v.fields).some((f) => f && f.conflict)) return {};
  try {
    return (await api(`/v1/records/${v.id}?grid=${encodeURIComponent(v.grid)}&history=1`)).authors || {};
  } catch { return {}; }
}

function writer(authors, actor) {
  const a = authors[actor];
  return a ? `${a.full_name || a.username}` : t(`设备 ${actor}`, `device ${actor}`);
}

async function recordScreen(main, id) {
  const stored = await store.record(id);
  if (!stored) { main.append(h("p", {}, t("这台手机上没有这条记录。", "Not on this phone."))); return; }
  const v = view_(stored);
  const c = def(v.collection);
  const authors = await writers(v);
  const dl = h("dl", { id: "record-fields" });
  for (const f of c.fields) {
    const x = v.fields[f.name];
    if (x === undefined) continue;
    const text = Array.isArray(x) ? (f.kind === "log" ? `${x.length}` : x.join("、")) : typeof x === "object" ? shown(c, f, x.value) : String(x);
    dl.append(h("dt", {}, L(f.label)), h("dd", { dataset: { key: f.name } }, text,
      x && x.conflict ? h("span", { class: "badge" }, t("冲突", "conflict")) : null,
      x && x.conflict ? h("ul", { class: "writers" }, x.conflict.map((w) => h("li", {}, shown(c, f, w.value), " · ", writer(authors, w.actor)))) : null));
  }
  main.append(h("h2", {}, titleOf(v, c)), h("p", { class: "muted" }, L(c.label), " · ", gridName(v.grid)), dl,
    writable(c) ? h("a", { class: "button", id: "edit", href: "#/edit/" + id }, t("修改", "Edit")) : null,
    ...(writable(c) ? c.fields.filter((f) => f.kind === "log").map((f) => entryForm(c, f, v)) : []));
}

// ---- log entries: visits, sessions, actions, photos, check-ins ----------------------

// The longer edge a photo is resized to on the phone (设置 changes it).
const PHOTO_EDGES = [1024, 1600, 2048];
const photoEdge = async () => (await store.get("photo_edge")) || 1600;

// Now, as RFC 3339 in the phone's own offset.
function now() {
  const d = new Date();
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60e3).toISOString().slice(0, 19);
  const sign = off >= 0 ? "+" : "-";
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, "0");
  const mm = String(Math.abs(off) % 60).padStart(2, "0");
  return `${local}${sign}${hh}:${mm}`;
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

// A picture from the camera, resized on the phone and named by its hash.
async function photoOf(file) {
  let blob = file;
  let type = file.type || "image/jpeg";
  if (type.startsWith("image/")) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, (await photoEdge()) / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    type = "image/jpeg";
  }
  const sha256 = hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  return { sha256, media_type: type, size: blob.size, blob };
}

// A QR code read from a picture, where the browser can (BarcodeDetector).
async function scan(file) {
  if (!("BarcodeDetector" in window)) return null;
  const codes = await new window.BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
  return codes.length ? codes[0].rawValue : null;
}

function entryForm(c, log, v) {
  const id = "log-" + log.name;
  const form = h("form", { id, class: "form entry" });
  const said = h("p", { role: "status", class: "said" });
  const planned = log.name === "check_ins" && Array.isArray(v.fields.planned_checkpoints) ? v.fields.planned_checkpoints : [];
  for (const e of log.entry) {
    const name = `${log.name}.${e.name}`;
    const label = L(e.label) + (e.required ? " *" : "");
    const fid = `${id}-${e.name}`;
    if (e.type === "attachment") {
      form.append(h("label", {}, label, h("input", { id: fid, name: e.name, type: "file", accept: "image/*,application/pdf", capture: "environment" })));
    } else if (e.type === "enum") {
      form.append(h("label", {}, label, h("select", { id: fid, name: e.name }, e.required ? null : h("option", { value: "" }, "—"),
        (e.values || []).map((x) => h("option", { value: x }, e.value_labels && e.value_labels[x] ? L(e.value_labels[x]) : x)))));
    } else if (e.type === "geo") {
      const where = h("input", { id: fid, name: e.name, readonly: true, placeholder: t("未定位", "no position") });
      form.append(h("label", {}, label, where), h("button", { type: "button", "on:click": () => {
        if (!navigator.geolocation) { said.textContent = t("无法定位", "No position on this device"); return; }
        navigator.geolocation.getCurrentPosition((p) => {
          where.value = `${p.coords.latitude.toFixed(6)},${p.coords.longitude.toFixed(6)}`;
          where.dataset.accuracy = String(Math.round(p.coords.accuracy));
          said.textContent = t(`精度约 ${where.dataset.accuracy} 米`, `accurate to about ${where.dataset.accuracy} m`);
        }, (err) => { said.textContent = t("定位失败：", "No position: ") + err.message; }, { enableHighAccuracy: true, timeout: 15000 });
      } }, t("定位", "Locate")));
    } else if (e.type === "datetime") {
      form.append(h("label", {}, label, h("input", { id: fid, name: e.name, type: "datetime-local" })));
    } else {
      const input = h("input", { id: fid, name: e.name, maxlength: e.max_len || null, list: e.name === "checkpoint" && planned.length ? id + "-planned" : null });
      form.append(h("label", {}, label, input));
      if (e.name === "checkpoint") {
        if (planned.length) form.append(h("datalist", { id: id + "-planned" }, planned.map((p) => h("option", { value: p }))));
        if ("BarcodeDetector" in window) {
          form.append(h("label", { class: "button" }, t("扫码", "Scan"), h("input", { type: "file", accept: "image/*", capture: "environment", class: "hidden",
            "on:change": async (ev) => {
              const code = await scan(ev.target.files[0]).catch(() => null);
              if (code) { input.value = code; if (form.elements.method) form.elements.method.value = "qr"; }
              said.textContent = code ? t(`已识别：${code}`, `Read: ${code}`) : t("没有识别到二维码，请输入点位编号", "No code read: type the checkpoint");
            } })));
        }
      }
    }
  }
  form.append(h("button", { type: "submit", class: "primary" }, t("添加", "Add"), " ", L(log.label)), said);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields = {};
    const photos = [];
    let accuracy = null;
    try {
      for (const e of log.entry) {
        const el = form.elements[e.name];
        if (e.type === "attachment") {
          const file = el.files[0];
          if (file) {
            const p = await photoOf(file);
            photos.push(p);
            fields[e.name] = { sha256: p.sha256, media_type: p.media_type, size: p.size };
          }
        } else if (e.type === "geo") {
          if (el.value) {
            const [lat, lng] = el.value.split(",").map(Number);
            fields[e.name] = { lat, lng };
            accuracy = el.dataset.accuracy;
          }
        } else if (el.value !== "") {
          fields[e.name] = e.type === "datetime" ? el.value + ":00" + now().slice(19) : el.value;
        }
        if (e.required && fields[e.name] === undefined) throw new Error(t(`请填写${L(e.label)}`, `${L(e.label)} is required`));
        const code = fields[e.name] !== undefined && e.type !== "attachment" ? checkValue(e, fields[e.name]) : null;
        if (code) throw new Error(refusal(e.label, code));
      }
      // A position's accuracy goes with it, in the entry's note (the schema's
      // position holds no accuracy of its own).
      if (accuracy && log.entry.some((e) => e.name === "note")) {
        fields.note = `${fields.note ? fields.note + " " : ""}${t(`（定位精度约 ${accuracy} 米）`, `(position accurate to ${accuracy} m)`)}`;
      }
      if (planned.length && fields.checkpoint && !planned.includes(fields.checkpoint)) {
        said.textContent = t("注意：不在计划点位中", "Note: not a planned checkpoint");
      }
      await make({ record: v.id, ops: [{ append: [log.name, { id: newId(), at: now(), fields }] }] }, photos);
      go("#/record/" + v.id);
    } catch (err) {
      said.textContent = t("未保存：", "Not saved: ") + err.message;
    }
  });
  return h("details", { class: "log", dataset: { log: log.name } }, h("summary", {}, t("添加", "Add "), L(log.label),
    ` (${(v.fields[log.name] || []).length})`), form);
}

const KINDS = {
  assigned: ["交办给我", "assigned to me"], overdue: ["已超期", "overdue"], due_soon: ["24小时内到期", "due within 24 h"],
  escalated: ["上报至本级", "escalated to us"], conflict: ["待裁决冲突", "conflict to resolve"], quarantined: ["退回待处理", "refused, waiting"],
};

async function settingsScreen(main) {
  const edge = await photoEdge();
  const select = h("select", { id: "photo-edge", "on:change": async (e) => { await store.set({ photo_edge: Number(e.target.value) }); } },
    PHOTO_EDGES.map((px) => h("option", { value: String(px), selected: px === edge }, `${px} px`)));
  main.append(h("h2", {}, t("设置", "Settings")),
    h("label", {}, t("照片缩小到（长边）", "Photos resized to (longer edge)"), select),
    h("p", { class: "muted" }, t("照片在手机上缩小后再保存和上传，省流量。", "Photos are resized on the phone before they are kept and sent: less data.")));
}

async function inboxScreen(main) {
  const inbox = await store.get("inbox");
  const items = (inbox && inbox.items) || [];
  main.append(h("h2", {}, t("待办", "To do")), items.length ? h("ul", { class: "list", id: "inbox" }, items.map((i) =>
    h("li", { dataset: { kind: i.kind } }, h("a", { href: i.record ? "#/record/" + i.record : "#/refused" }, i.label || i.code),
      h("small", {}, t(...(KINDS[i.kind] || [i.kind, i.kind])), i.deadline ? " · " + i.deadline.slice(0, 16).replace("T", " ") : ""))))
    : h("p", { class: "muted" }, t("没有待办。", "Nothing to do.")));
}

async function refusedScreen(main) {
  const list = await store.all("refused");
  main.append(h("h2", {}, t("被退回的修改", "Refused changes")),
    h("p", { class: "muted" }, t("服务器没有接受这些修改，它们在主管那里等待处理，手机上保留。", "The server did not take these; they wait for a supervisor, and stay here.")),
    list.length ? h("ul", { class: "list", id: "refused" }, list.map((r) => h("li", {}, h("code", {}, r.code), " ", r.message)))
      : h("p", { class: "muted" }, t("没有。", "None.")));
}

// A device an admin revoked: nothing more syncs. Its unsent changes go to
// the server's quarantine for a supervisor (a password login of its user
// hands them over); here they move to 退回, kept (PROTOCOL.md).
async function revoked() {
  status(t("这台设备已被停用，不能再同步。未上传的修改仍在手机上。", "This device was revoked and syncs no more. Its unsent changes are still here."), "revoked");
  const waiting = await store.count("outbox");
  const password = h("input", { id: "handover-password", type: "password", autocomplete: "current-password" });
  const said = h("p", { role: "status", id: "handover-result" });
  const form = h("form", { id: "handover-form", class: "form" },
    h("h2", {}, t("设备已停用", "Device revoked")),
    h("p", {}, t(`还有 ${waiting} 条修改没有上传。输入密码，把它们交给主管处理（不会丢失）。`,
      `${waiting} changes were not sent. Enter your password to hand them to your supervisor (nothing is lost).`)),
    h("label", {}, t("密码", "Password"), password),
    h("button", { type: "submit", class: "primary" }, t("移交", "Hand over")), said);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const login = await call("/v1/auth/login", { method: "POST", body: { username: me.user.username, password: password.value } });
      const outbox = (await store.all("outbox")).sort((a, b) => a.seq - b.seq);
      const answer = await call(`/v1/devices/${await store.get("device")}/handover`, { method: "POST", body: { changes: outbox }, token: login.access_token });
      const bySeq = new Map(outbox.map((c) => [c.seq, c]));
      const refused = (answer.results || []).map((r) => ({ change: bySeq.get(r.seq), code: r.code, message: r.message }));
      await store.synced({ refused, meta: { handed_over: true } });
      said.textContent = t("已移交，等待主管处理。", "Handed over: they wait for your supervisor.");
      said.dataset.state = "done";
      await refreshBar();
    } catch (e) {
      said.textContent = (e.code || "") + " " + e.message;
      said.dataset.state = "error";
    }
  });
  $("view").replaceChildren(form);
}

// The page's fixed words in the chosen language.
function words() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  $("lang").textContent = lang === "en" ? "中文" : "EN";
  const tabs = $("tabs").querySelectorAll("a");
  [[t("记录", "Records")], [t("待办", "To do")], [t("退回", "Refused")]].forEach(([w], i) => { tabs[i].firstChild.textContent = w + " "; });
  $("sync").textContent = t("同步", "Sync");
  $("login").textContent = t("登录", "Sign in");
}

async function refreshBar() {
  if (!me) return;
  const out = await store.count("outbox");
  const bad = await store.count("refused");
  $("outbox").textContent = t(`待上传 ${out}`, `${out} to send`);
  $("outbox").dataset.count = String(out);
  $("refused-count").textContent = bad ? t(`退回 ${bad}`, `${bad} refused`) : "";
  $("net").textContent = navigator.onLine ? t("在线", "online") : t("离线", "offline");
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

async function route() {
  if (!me) return;
  editing = false;
  const [path, q] = location.hash.replace(/^#\/?/, "").split("?");
  const params = Object.fromEntries(new URLSearchParams(q || ""));
  const main = h("main", { id: "view" });
  $("view").replaceWith(main);
  const [head, id] = path.split("/");
  if (head === "new") await formScreen(main, params, null);
  else if (head === "edit") await formScreen(main, params, id);
  else if (head === "record") await recordScreen(main, id);
  else if (head === "inbox") await inboxScreen(main);
  else if (head === "refused") await refusedScreen(main);
  else if (head === "settings") await settingsScreen(main);
  else await listScreen(main, params);
  main.dataset.ready = "true";
}

// Grids the user no longer reaches (moved to another node while offline):
// not pulled; their changes wait for a supervisor. Shown until read.
async function moved() {
  const skipped = (await store.get("skipped")) || [];
  const el = $("moved");
  el.hidden = !skipped.length;
  el.replaceChildren();
  if (!skipped.length) return;
  el.append(
    t(`您已不负责这些网格：${skipped.map((x) => gridName(x.grid)).join("、")}。它们不再同步，这里做的修改转主管处理。`,
      `You no longer cover ${skipped.map((x) => gridName(x.grid)).join(", ")}: they sync no more, and changes made there go to your supervisor.`),
    " ",
    h("button", { type: "button", id: "moved-read", "on:click": async () => { await store.set({ skipped: [] }); await moved(); } }, t("知道了", "OK")));
}

async function start() {
  const doc = await store.get("schema");
  const user = await store.get("user");
  if (!user || !doc) {
    $("login-view").hidden = false;
    $("app-view").hidden = true;
    status(t("请登录", "Sign in"), "signed-out");
    return;
  }
  schema = schemaIndex(doc);
  grids = (await store.get("grids")) || [];
  me = { user, actor: await store.get("actor") };
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("who").textContent = user.full_name || user.username;
  await refreshBar();
  await route();
  status(navigator.onLine ? t("就绪", "Ready") : t("离线，修改会保存在手机上", "Offline: changes stay on the phone"), "ready");
}

async function boot() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  store = await open();
  $("login-form").addEventListener("submit", signIn);
  $("sync").addEventListener("click", () => sync());
  $("lang").addEventListener("click", () => { lang = lang === "en" ? "zh" : "en"; localStorage.setItem("gridsync.app.lang", lang); words(); route(); refreshBar(); moved(); });
  words();
  window.addEventListener("hashchange", route);
  // Captured: a script's `change` event (as a test sends) does not bubble.
  for (const ev of ["input", "change"]) {
    document.addEventListener(ev, (e) => { if (e.target.closest && e.target.closest("#view form")) editing = true; }, true);
  }
  window.addEventListener("online", () => { refreshBar(); sync(); });
  window.addEventListener("offline", refreshBar);
  await start();
}

boot();
