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
  mediators: "调解员排行", cases: "超期案件", petitions: "超期信访", mediations: "超期调解",
  key_persons: "待走访重点人员", places: "未按期巡查场所",
  event: "事件", hazard: "隐患", dispute: "矛盾纠纷", petition: "信访", key_person: "重点人员",
  place: "场所", household: "房屋", resident: "人口", patrol_round: "巡逻",
  district: "区", park: "园区", community: "社区",
};
const EN = {
  new: "New", closed: "Closed", overdue: "Overdue", records: "Records", open: "Open",
  escalated: "Escalated", conflicted: "Conflicts", newly_overdue: "Newly overdue",
  due_soon: "Due in 24 h", missed: "Missed", coverage: "Coverage",
};
const label = (k) => ZH[k] || EN[k] || k;
const both = (k) => (ZH[k] ? ZH[k] + " " : "") + (EN[k] || k);

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
  overdue: ["cases", "petitions", "mediations", "key_persons", "places"].map((l) => [l, LATE]),
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

function fmt(k, v) {
  if (v === null || v === undefined) return "";
  if (k === "coverage") return (v * 100).toFixed(1) + "%";
  if (typeof v === "boolean") return v ? "是 yes" : "否 no";
  if (k === "collection" || k === "level") return label(v);
  return String(v);
}

function card(key, value, alert) {
  return el("div", { class: "card" + (alert && value > 0 ? " alert" : ""), "data-figure": key, title: EN[key] || key },
    el("span", { class: "label" }, both(key)), el("span", { class: "value", id: "total-" + key }, fmt(key, value)));
}

function table(name, cols, rows) {
  const head = el("tr", {}, ...cols.map((c) => el("th", { title: c }, label(c))));
  const body = rows.map((r) => el("tr", { "data-row": String(r[cols[0]] ?? "") },
    ...cols.map((c) => el("td", { "data-key": c, class: typeof r[c] === "number" ? "num" : "" }, fmt(c, r[c])))));
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
if (session) start();
