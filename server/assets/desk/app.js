// The gridsync dashboard: log in, pick a node and a period, read the reports.
// Plain JS and inline SVG; everything it needs is served by the binary.
"use strict";

// Chinese labels; English is the fallback (and the tooltip).
const ZH = {
  records: "在册", open: "在办", new: "新增", closed: "办结", overdue: "超期",
  escalated: "升级", conflicted: "待裁决冲突", newly_overdue: "新超期", due_soon: "24小时内到期",
  code: "节点编码", name: "名称", level: "层级", grid: "网格", collection: "类别",
  category: "分类", status: "状态", day: "日期", rounds: "巡逻轮次", missed: "漏巡",
  planned: "计划点位", visited: "已巡点位", checkins: "打卡", coverage: "覆盖率",
  starts_at: "计划开始", id: "编号", label: "标题", assignee: "承办人", deadline: "期限",
  days_late: "超期天数", rank: "排名", username: "账号", full_name: "姓名", node: "所属节点",
  changes: "提交", reported: "上报", visits: "走访", inspections: "巡查", check_ins: "巡逻打卡",
  case_actions: "处置记录", sessions: "调解次数", agreed: "调解成功", score: "得分",
  by_node: "分节点", by_collection: "分类别", by_category: "分分类", by_status: "分状态",
  by_level: "分层级", by_grid: "分网格", by_day: "分日", grid_workers: "网格员排行",
  mediators: "调解员排行", at: "时间",
  // Collections, fields, codes, levels and overdue lists come from the
  // schema (GET /v1/schema): see `schemaLabel` below.
  stage_actions: "处置记录", stage_reinspections: "复查", stage_sessions: "调解",
  stage_agreement_scan: "调解协议",
  photo_pending: "照片尚未上传", doc_pending: "文件尚未上传", photo_forbidden: "无权查看",
  photo_missing: "照片不存在", photo_lost: "照片文件缺失，待设备重新上传", photo_failed: "照片无法显示", no_preview: "无预览",
  no_photos: "暂无照片", no_entries: "暂无记录", pdf: "文件", open_case: "点击查看案件",
  open_photo: "查看原图", open_tab: "在新窗口打开", download: "下载", view: "查看",
  case_missing: "案件不存在或不在您的辖区", loading: "加载中",
};
const EN = {
  new: "New", closed: "Closed", overdue: "Overdue", records: "Records", open: "Open",
  escalated: "Escalated", conflicted: "Conflicts", newly_overdue: "Newly overdue",
  due_soon: "Due in 24 h", missed: "Missed", coverage: "Coverage",
  stage_actions: "Action", stage_reinspections: "Re-inspection", stage_sessions: "Session",
  stage_agreement_scan: "Signed agreement",
  photo_pending: "Photo not uploaded yet", doc_pending: "Document not uploaded yet",
  photo_forbidden: "Not allowed to see this photo", photo_missing: "Photo not found",
  photo_lost: "Photo file missing: waiting for a device to upload it again",
  photo_failed: "Photo cannot be shown", no_preview: "No preview", no_photos: "No photos",
  no_entries: "No entries", pdf: "PDF document", open_case: "Open the case",
  open_photo: "View full size", open_tab: "Open in a new tab", download: "Download", view: "View",
  case_missing: "Case not found or not in your area", loading: "Loading…",
};
// The schema's labels (GET /v1/schema): collections, their fields and the
// fields' codes, the levels, the overdue lists.
const LABELS = { collection: {}, field: {}, value: {}, level: {}, list: {} };
async function loadSchema() {
  const res = await fetch("/v1/schema");
  if (!res.ok) return;
  const schema = await res.json();
  for (const c of schema.collections) {
    LABELS.collection[c.name] = c.label;
    if (c.fields.some((f) => f.kind === "level")) {
      CASES.add(c.name);
      LOGS[c.name] = c.fields.filter((f) => f.kind === "log" && f.name !== "photos").map((f) => f.name);
    }
    LABELS.field[c.name] = {};
    LABELS.value[c.name] = {};
    for (const f of c.fields) {
      LABELS.field[c.name][f.name] = f.label;
      if (f.value_labels) LABELS.value[c.name][f.name] = f.value_labels;
      for (const e of f.entry || []) {
        LABELS.field[c.name][f.name + "." + e.name] = e.label;
        if (e.value_labels) LABELS.value[c.name][f.name + "." + e.name] = e.value_labels;
      }
    }
  }
  for (const l of schema.levels) LABELS.level[l.code] = l.label;
  for (const l of schema.overdue_lists) LABELS.list[l.code] = l.label;
}
// The label of a collection, a level or an overdue list by its code.
const schemaLabel = (code) => LABELS.collection[code] || LABELS.level[code] || LABELS.list[code];
// The label of a code of `collection.field` (an entry field: `log.field`).
const valueLabel = (collection, field, code) => ((LABELS.value[collection] || {})[field] || {})[code];
const fieldLabel = (collection, field) => (LABELS.field[collection] || {})[field];
// A field's name as a heading: the schema's label in Chinese and English.
const fieldBoth = (collection, field) => {
  const l = fieldLabel(collection, field);
  return l ? l.zh + " " + l.en : both(field);
};

const label = (k) => ZH[k] || (schemaLabel(k) || {}).zh || EN[k] || k;
const both = (k) => {
  const s = schemaLabel(k);
  if (!ZH[k] && s) return s.zh + " " + s.en;
  return (ZH[k] ? ZH[k] + " " : "") + (EN[k] || k);
};

const FIGURES = ["records", "open", "new", "closed", "overdue", "escalated", "conflicted", "newly_overdue", "due_soon"];
const STOCK = FIGURES.slice(0, 7);
const COVERAGE = ["rounds", "missed", "planned", "visited", "checkins", "coverage"];
const LATE = ["grid", "collection", "label", "category", "status", "level", "assignee", "deadline", "days_late"];
const TABLES = {
  summary: [["by_node", ["code", "name", ...STOCK]], ["by_collection", ["collection", ...STOCK]],
    ["by_category", ["collection", "category", ...STOCK]], ["by_status", ["collection", "status", ...STOCK]],
    ["by_level", ["collection", "level", ...STOCK]]],
  patrol: [["by_grid", ["grid", ...COVERAGE]], ["by_day", ["day", ...COVERAGE]],
    ["rounds", ["day", "grid", "status", "planned", "visited", "checkins", "missed"]]],
  // Filled from the schema's overdue lists once it is loaded.
  overdue: [],
  ranking: [["grid_workers", ["rank", "full_name", "username", "node", "score", "reported", "closed", "visits", "inspections", "check_ins", "case_actions", "changes"]],
    ["mediators", ["rank", "full_name", "username", "node", "score", "sessions", "agreed", "closed", "changes"]]],
  brief: [["by_node", ["code", "name", ...FIGURES]], ["by_collection", ["collection", ...FIGURES]]],
};

const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};

let session = JSON.parse(sessionStorage.getItem("gridsync") || "null");

async function api(path, opts) {
  const go = () => fetch(path, { ...opts, headers: { ...(opts && opts.headers), Authorization: "Bearer " + session.access_token } });
  let res = await go();
  if (res.status === 401 && session.refresh_token) {
    const r = await fetch("/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: session.refresh_token }) });
    if (r.ok) {
      const t = await r.json();
      session = { ...session, access_token: t.access_token, refresh_token: t.refresh_token };
      sessionStorage.setItem("gridsync", JSON.stringify(session));
      res = await go();
    }
  }
  return res;
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const res = await fetch("/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("login-error").textContent = "登录失败 Login failed: " + (body.message || res.status);
    return;
  }
  session = { access_token: body.access_token, refresh_token: body.refresh_token, user: body.user };
  sessionStorage.setItem("gridsync", JSON.stringify(session));
  await start();
}

function logout() {
  sessionStorage.removeItem("gridsync");
  session = null;
  location.reload();
}

async function start() {
  $("login-view").hidden = true;
  $("report-view").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = session.user.full_name + " (" + session.user.username + ")";
  await loadSchema();
  TABLES.overdue = Object.keys(LABELS.list).map((l) => [l, LATE]);
  const res = await api("/v1/org/nodes");
  if (res.status === 401) return logout();
  const nodes = (await res.json()).nodes || [];
  const parent = Object.fromEntries(nodes.map((n) => [n.code, n.parent]));
  const under = (code) => { for (let c = code, i = 0; c && i < 8; c = parent[c], i++) if (c === session.user.node) return true; return false; };
  const order = { district: 0, park: 1, community: 2, grid: 3 };
  const mine = nodes.filter((n) => under(n.code)).sort((a, b) => order[a.level] - order[b.level] || a.code.localeCompare(b.code));
  const select = $("node");
  select.replaceChildren(...mine.map((n) => el("option", { value: n.code }, `${label(n.level)} ${n.name} (${n.code})`)));
  select.value = session.user.node;
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  $("date").value = $("date").value || today;
  $("from").value = $("from").value || today;
  $("to").value = $("to").value || today;
  $("status").textContent = "请选择节点和周期 Pick a node and a period";
  $("status").dataset.state = "ready";
}

function query(format) {
  const p = new URLSearchParams({ node: $("node").value });
  const report = $("report").value;
  if (report === "brief") {
    p.set("date", $("date").value);
  } else if ($("period").value === "range") {
    p.set("from", $("from").value);
    p.set("to", $("to").value);
  } else {
    p.set("period", $("period").value);
    p.set("date", $("date").value);
  }
  if (format) p.set("format", format);
  return `/v1/reports/${report}?${p}`;
}

// A value as shown; a code of the row's collection (`row.collection`, or
// `collection`) by its label.
function fmt(k, v, row, collection) {
  if (v === null || v === undefined) return "";
  if (k === "coverage") return (v * 100).toFixed(1) + "%";
  if (typeof v === "boolean") return v ? "是 yes" : "否 no";
  if (k === "collection" || k === "level" || k === "list") return label(v);
  const c = (row && row.collection) || collection;
  const l = c && typeof v === "string" && valueLabel(c, k, v);
  if (l) return l.zh;
  return String(v);
}

function card(key, value, alert) {
  return el("div", { class: "card" + (alert && value > 0 ? " alert" : ""), "data-figure": key, title: EN[key] || key },
    el("span", { class: "label" }, both(key)), el("span", { class: "value", id: "total-" + key }, fmt(key, value)));
}

// Rows naming a case open it in the case panel (click, or Enter).
// Cases (collections with a handling level) and, per case collection, its
// logs shown as tables (all but the photos): from the schema.
const CASES = new Set();
const LOGS = {};

// Rows of `rounds` are patrol rounds; other rows name their collection.
const TABLE_COLLECTION = { rounds: "patrol_round" };

function table(name, cols, rows) {
  const head = el("tr", {}, ...cols.map((c) => el("th", { title: c }, label(c))));
  const body = rows.map((r) => {
    const attrs = { "data-row": String(r[cols[0]] ?? "") };
    if (r.id && CASES.has(r.collection)) Object.assign(attrs, { "data-id": r.id, tabindex: "0", title: both("open_case") });
    return el("tr", attrs,
      ...cols.map((c) => el("td", { "data-key": c, "data-code": typeof r[c] === "string" ? r[c] : "", class: typeof r[c] === "number" ? "num" : "" },
        fmt(c, r[c], r, TABLE_COLLECTION[name]))));
  });
  return el("div", {}, el("h3", {}, both(name) + ` (${rows.length})`), el("table", { id: "table-" + name }, el("thead", {}, head), el("tbody", {}, ...body)));
}

// A grouped bar chart: one group per row, one bar per key.
function bars(title, rows, nameKey, keys) {
  const colours = ["#3b6ea8", "#6aa84f", "#b00020", "#e69138", "#8e7cc3"];
  const W = 520, H = 200, left = 36, bottom = 40;
  const max = Math.max(1, ...rows.flatMap((r) => keys.map((k) => r[k] || 0)));
  const group = (W - left) / Math.max(1, rows.length);
  const bw = Math.max(2, (group - 6) / keys.length);
  const s = svg("svg", { width: W, height: H + 20, role: "img", "aria-label": title });
  const t = svg("text", { x: 4, y: 14 }); t.textContent = title; s.append(t);
  rows.forEach((r, i) => {
    keys.forEach((k, j) => {
      const v = r[k] || 0, h = (v / max) * (H - bottom - 20);
      const rect = svg("rect", { x: left + i * group + j * bw, y: H - bottom - h, width: bw - 1, height: h, fill: colours[j % colours.length] });
      const tip = svg("title"); tip.textContent = `${r[nameKey]} ${both(k)}: ${v}`; rect.append(tip);
      s.append(rect);
    });
    const name = svg("text", { x: left + i * group, y: H - bottom + 14 });
    name.textContent = fmt(nameKey, r[nameKey]).slice(0, 10);
    s.append(name);
  });
  keys.forEach((k, j) => {
    const x = left + j * 110;
    s.append(svg("rect", { x, y: H + 4, width: 10, height: 10, fill: colours[j % colours.length] }));
    const lt = svg("text", { x: x + 14, y: H + 13 }); lt.textContent = both(k); s.append(lt);
  });
  return s;
}

function render(report, r) {
  $("report-head").replaceChildren(el("h2", {}, `${r.node.name} (${r.node.code}) · ${r.period.first_day} – ${r.period.last_day}`),
    el("p", {}, `截至 As of ${r.as_of}` + (r.since ? ` · 自 since ${r.since}` : "")));
  const cards = [], charts = [], tables = [];
  if (report === "summary" || report === "brief") {
    // newly_overdue and due_soon are counted by the brief only.
    const shown = report === "brief" ? FIGURES : FIGURES.slice(0, 7);
    for (const k of shown) cards.push(card(k, r.totals[k], k === "overdue" || k === "newly_overdue"));
    charts.push(bars(both("by_node"), r.by_node, "code", ["records", "open", "overdue"]));
    charts.push(bars(both("by_collection"), r.by_collection, "collection", ["new", "closed", "overdue"]));
  } else if (report === "patrol") {
    for (const k of COVERAGE) cards.push(card(k, r.totals[k], k === "missed"));
    charts.push(bars(both("by_day"), r.by_day, "day", ["planned", "visited", "missed"]));
  } else if (report === "overdue") {
    for (const [k] of TABLES.overdue) cards.push(card(k, r.counts[k], true));
  } else if (report === "ranking") {
    charts.push(bars(both("grid_workers"), r.grid_workers, "full_name", ["score"]));
  }
  for (const [name, cols] of TABLES[report]) tables.push(table(name, cols, r[name] || []));
  if (report === "brief") for (const [name, cols] of TABLES.overdue) tables.push(table(name, cols, r.at_risk[name] || []));
  $("cards").replaceChildren(...cards);
  $("charts").replaceChildren(...charts);
  $("tables").replaceChildren(...tables);
}

async function load(ev) {
  if (ev) ev.preventDefault();
  const report = $("report").value;
  $("status").textContent = "加载中 Loading…";
  $("status").dataset.state = "loading";
  const res = await api(query());
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("status").textContent = "出错 Error: " + (body.message || res.status);
    $("status").dataset.state = "error";
    return;
  }
  render(report, body);
  $("status").textContent = "";
  $("status").dataset.state = "done";
}

async function download(format) {
  const res = await api(query(format));
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("status").textContent = "出错 Error: " + (body.message || res.status);
    return;
  }
  const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  const a = el("a", { href: URL.createObjectURL(await res.blob()), download: name ? name[1] : "report." + format });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------- the case panel
// A case's main fields, its logs and its photos. Photos come from the API with
// the token (an <img src> cannot send it): fetch → blob → object URL, every URL
// revoked when the panel closes (the full view's when the view closes).

const CASE_FIELDS = ["category", "severity", "status", "level", "assignee", "mediator", "deadline",
  "received_on", "address", "summary", "matter", "description"];
let caseGen = 0; // bumped when the panel closes: late answers are dropped
let caseUrls = []; // the panel's object URLs
const thumbs = new Map(); // sha256 → Promise of a thumbnail's object URL
let viewGen = 0;
let viewUrl = null; // the full view's object URL

class FetchError extends Error {
  constructor(status, code) { super(`${status} ${code || ""}`); this.status = status; this.code = code; }
}

// GET `path` with the token; an object URL of the body, or null when the
// panel closed meanwhile.
async function objectUrl(path, gen) {
  const res = await api(path);
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new FetchError(res.status, body.code);
  }
  const blob = await res.blob();
  if (gen !== caseGen) return null;
  return URL.createObjectURL(blob);
}

const isPdf = (att) => att.media_type === "application/pdf";
const pendingText = (att) => both(isPdf(att) ? "doc_pending" : "photo_pending");

// What to say instead of a photo that cannot be shown.
function failure(e, att) {
  if (e.status === 403) return both("photo_forbidden");
  if (e.code === "attachment_pending") return pendingText(att);
  if (e.code === "attachment_missing") return both("photo_lost");
  if (e.status === 404) return both("photo_missing");
  return both("photo_failed") + (e.status ? ` (${e.status})` : "");
}

// A scalar field's display value (the shown value of a register; a set's members).
function show(k, f, collection) {
  if (f === null || f === undefined) return "";
  if (Array.isArray(f)) return f.map((m) => fmt(k, m, null, collection)).join(", ");
  if (typeof f === "object" && "value" in f) return show(k, f.value, collection) + (f.conflict ? " (冲突 conflict)" : "");
  if (typeof f === "object" && "sha256" in f) return f.caption || both("photo");
  if (typeof f === "object" && "lat" in f) return `${f.lat}, ${f.lng}`;
  return fmt(k, f, null, collection);
}

// RFC 3339 UTC → China time, to the minute.
const chinaTime = (iso) => new Date(Date.parse(iso) + 8 * 3600e3).toISOString().slice(0, 16).replace("T", " ");

// Every attachment the record refers to, where, and with what caption.
function photoRefs(rec) {
  const f = rec.fields || {};
  const refs = [];
  for (const e of f.photos || []) {
    if (e.fields && e.fields.photo) refs.push({ att: e.fields.photo, stage: e.fields.stage, note: e.fields.note, at: e.at, collection: rec.collection });
  }
  for (const log of LOGS[rec.collection] || []) {
    for (const e of f[log] || []) {
      if (e.fields && e.fields.photo) refs.push({ att: e.fields.photo, stage: log, note: e.fields.note, at: e.at });
    }
  }
  const scan = f.agreement_scan && f.agreement_scan.value;
  if (scan) refs.push({ att: scan, stage: "agreement_scan" });
  return refs;
}

function caption(ref) {
  // A photo's stage (before, after…) is a code of the schema's photo log.
  const stage = ref.collection && valueLabel(ref.collection, "photos.stage", ref.stage);
  const parts = [el("span", { class: "stage" }, stage ? stage.zh + " " + stage.en : both("stage_" + ref.stage))];
  if (ref.att.caption) parts.push(" ", ref.att.caption);
  if (ref.note) parts.push(el("span", { class: "note" }, ref.note));
  return parts;
}

// A thumbnail's object URL, fetched once per panel.
function thumbnail(sha256, gen) {
  if (!thumbs.has(sha256)) thumbs.set(sha256, objectUrl(`/v1/attachments/${sha256}/thumbnail`, gen).then((url) => {
    if (url) caseUrls.push(url);
    return url;
  }));
  return thumbs.get(sha256);
}

// One tile of the photo grid: a thumbnail, a document, or a plain message.
function tile(ref, info, gen) {
  const att = ref.att;
  const box = el("figure", { class: "photo", "data-sha256": att.sha256 });
  const say = (text, state) => {
    box.dataset.state = state;
    return el("div", { class: "thumb message" }, text);
  };
  if (info && info.stored === false) {
    box.append(say(pendingText(att), "pending"), el("figcaption", {}, ...caption(ref)));
    return box;
  }
  const open = el("button", { type: "button", class: "thumb", title: both("open_photo") });
  open.addEventListener("click", () => openPhoto(ref));
  box.append(open, el("figcaption", {}, ...caption(ref)));
  if (isPdf(att)) {
    box.dataset.state = "document";
    open.append(el("span", { class: "doc" }, "PDF"), el("span", {}, both("pdf")));
    return box;
  }
  box.dataset.state = "loading";
  open.append(el("span", {}, both("loading")));
  thumbnail(att.sha256, gen).then((url) => {
    if (!url) return;
    const img = el("img", { alt: att.caption || both("photo") });
    img.addEventListener("load", () => { box.dataset.state = "shown"; });
    img.addEventListener("error", () => open.replaceWith(say(both("photo_failed"), "error")));
    img.src = url;
    open.replaceChildren(img);
  }, (e) => {
    // Refused or absent (403, 404): a plain message. Otherwise the photo
    // may still open (no preview of its type, a failed preview): say why,
    // and keep the tile clickable.
    if (e.status === 403 || (e.status === 404 && e.code !== "no_thumbnail")) {
      open.replaceWith(say(failure(e, att), "error"));
    } else {
      box.dataset.state = e.code === "no_thumbnail" ? "no_preview" : "error";
      open.replaceChildren(el("span", {}, e.code === "no_thumbnail" ? both("no_preview") : failure(e, att)));
    }
  });
  return box;
}

// A log of the case as a table: time, the entry's fields, its photo.
function logTable(collection, name, entries, stored, gen) {
  const keys = [...new Set(entries.flatMap((e) => Object.keys(e.fields || {})))].filter((k) => k !== "photo");
  const cols = ["at", ...keys, "photo"];
  const head = el("tr", {}, ...cols.map((c) => el("th", { title: c }, (fieldLabel(collection, name + "." + c) || { zh: label(c) }).zh)));
  const rows = entries.map((e) => el("tr", {}, ...cols.map((c) => {
    if (c === "at") return el("td", { "data-key": c }, (e.at || "").slice(0, 16).replace("T", " "));
    const f = e.fields || {};
    if (c !== "photo") {
      const code = valueLabel(collection, name + "." + c, f[c]);
      return el("td", { "data-key": c }, code ? code.zh : show(c, f[c]));
    }
    if (!f.photo) return el("td", { "data-key": c });
    const info = stored.get(f.photo.sha256);
    if (info && info.stored === false) return el("td", { "data-key": c, class: "muted" }, pendingText(f.photo));
    const b = el("button", { type: "button" }, both("view"));
    b.addEventListener("click", () => openPhoto({ att: f.photo, stage: name, note: f.note, collection }));
    return el("td", { "data-key": c }, b);
  })));
  return el("div", {}, el("h3", {}, fieldBoth(collection, name) + ` (${entries.length})`),
    entries.length ? el("table", { id: "log-" + name }, el("thead", {}, head), el("tbody", {}, ...rows))
      : el("p", { class: "muted" }, both("no_entries")));
}

async function openCase(id) {
  closeCase();
  const gen = caseGen;
  const panel = $("case-panel");
  panel.hidden = false;
  panel.dataset.id = id;
  panel.dataset.state = "loading";
  $("case-title").textContent = id;
  $("case-status").textContent = both("loading");
  const res = await api(`/v1/records/${encodeURIComponent(id)}`);
  const body = await res.json().catch(() => ({}));
  if (gen !== caseGen) return;
  if (!res.ok) {
    $("case-status").textContent = res.status === 404 ? both("case_missing") : "出错 Error: " + (body.message || res.status);
    panel.dataset.state = "error";
    return;
  }
  const rec = body.record;
  const f = rec.fields || {};
  const name = show("title", f.title) || show("summary", f.summary).slice(0, 40) || show("matter", f.matter).slice(0, 40) || rec.id;
  $("case-title").textContent = `${label(rec.collection)} · ${name}`;
  const dl = [];
  for (const k of CASE_FIELDS) {
    let v;
    if (k === "level") v = fmt(k, rec.level || (f.level && f.level.value));
    else if (k === "deadline") {
      v = rec.deadline ? chinaTime(rec.deadline) : "";
      const late = rec.deadline && !rec.closed_at && Date.parse(rec.deadline) < Date.now();
      if (late) v += ` (${both("overdue")})`;
    } else v = show(k, f[k], rec.collection);
    if (v) dl.push(el("dt", {}, fieldBoth(rec.collection, k)), el("dd", { "data-key": k }, v));
  }
  $("case-fields").replaceChildren(...dl);
  const stored = new Map((body.attachments || []).map((a) => [a.sha256, a]));
  const refs = photoRefs(rec);
  $("case-photos").replaceChildren(...(refs.length ? refs.map((r) => tile(r, stored.get(r.att.sha256), gen))
    : [el("p", { class: "muted" }, both("no_photos"))]));
  $("case-logs").replaceChildren(...(LOGS[rec.collection] || []).map((l) => logTable(rec.collection, l, f[l] || [], stored, gen)));
  $("case-status").textContent = "";
  panel.dataset.state = "done";
}

function closeCase() {
  closePhoto();
  caseGen++;
  for (const url of caseUrls) URL.revokeObjectURL(url);
  caseUrls = [];
  thumbs.clear();
  for (const id of ["case-fields", "case-photos", "case-logs"]) $(id).replaceChildren();
  $("case-panel").hidden = true;
  delete $("case-panel").dataset.state;
}

// The full photo (or the PDF) over the page.
async function openPhoto(ref) {
  closePhoto();
  const gen = caseGen, mine = viewGen;
  const att = ref.att;
  const view = $("photo-view");
  view.hidden = false;
  view.dataset.state = "loading";
  view.dataset.sha256 = att.sha256;
  $("photo-caption").replaceChildren(...caption(ref));
  $("photo-body").replaceChildren(el("p", { class: "message" }, both("loading")));
  const say = (text, state) => {
    $("photo-body").replaceChildren(el("p", { class: "message" }, text));
    view.dataset.state = state;
  };
  let url;
  try {
    url = await objectUrl(`/v1/attachments/${att.sha256}`, gen);
  } catch (e) {
    if (mine === viewGen) say(failure(e, att), "error");
    return;
  }
  if (!url) return;
  if (mine !== viewGen) {
    URL.revokeObjectURL(url);
    return;
  }
  viewUrl = url;
  if (isPdf(att)) {
    $("photo-body").replaceChildren(el("iframe", { src: url, title: att.caption || both("pdf") }),
      el("p", {}, el("a", { href: url, target: "_blank", rel: "noopener" }, both("open_tab")), " · ",
        el("a", { href: url, download: att.sha256.slice(0, 12) + ".pdf" }, both("download"))));
    view.dataset.state = "shown";
    return;
  }
  const img = el("img", { id: "photo-full", alt: att.caption || both("photo") });
  img.addEventListener("load", () => { view.dataset.state = "shown"; });
  img.addEventListener("error", () => say(both("photo_failed"), "error"));
  img.src = url;
  $("photo-body").replaceChildren(img);
}

function closePhoto() {
  viewGen++;
  if (viewUrl) URL.revokeObjectURL(viewUrl);
  viewUrl = null;
  $("photo-body").replaceChildren();
  $("photo-caption").replaceChildren();
  $("photo-view").hidden = true;
  delete $("photo-view").dataset.state;
}

function periodChanged() {
  document.body.classList.toggle("show-range", $("period").value === "range" && $("report").value !== "brief");
}

$("login-form").addEventListener("submit", login);
$("controls").addEventListener("submit", load);
$("logout").addEventListener("click", logout);
$("csv").addEventListener("click", () => download("csv"));
$("xlsx").addEventListener("click", () => download("xlsx"));
$("period").addEventListener("change", periodChanged);
$("report").addEventListener("change", periodChanged);
$("tables").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr[data-id]");
  if (tr) openCase(tr.dataset.id);
});
$("tables").addEventListener("keydown", (ev) => {
  const tr = ev.target.closest("tr[data-id]");
  if (tr && ev.key === "Enter") openCase(tr.dataset.id);
});
$("case-close").addEventListener("click", closeCase);
$("photo-close").addEventListener("click", closePhoto);
$("photo-view").addEventListener("click", (ev) => { if (ev.target === ev.currentTarget) closePhoto(); });
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  if (!$("photo-view").hidden) closePhoto();
  else if (!$("case-panel").hidden) closeCase();
});
if (session) start();
