// The desk's shell (issue 17): the session (sign-in, renewal on activity,
// sign-out, the idle timeout the server keeps), the words (the schema's
// labels, Chinese first), the org tree in the caller's reach, the router on
// the hash, and the `ctx` every screen module gets. The contract with the
// screens is server/assets/desk/README.md. Nothing here is loaded from
// outside this server.

import { h } from "/app/dom.js";
const $ = (id) => document.getElementById(id);

// ---- words ---------------------------------------------------------------

let lang = localStorage.getItem("gridsync.lang") === "en" ? "en" : "zh";
const t = (zh, en) => (lang === "en" && en !== undefined ? en : zh);
const L = (label) => (label ? (lang === "en" ? label.en || label.zh : label.zh || label.en) : "");


// ---- the API -------------------------------------------------------------

let csrf = null;
let lastRenew = 0;

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `${status} ${code || ""}`);
    this.status = status;
    this.code = code;
  }
}

// Call the API with the session cookie; writes carry the CSRF token. A
// refused session (401) brings the sign-in form back.
async function api(path, opts = {}) {
  const method = opts.method || "GET";
  const headers = { ...(opts.headers || {}) };
  let body = opts.body;
  const binary = body instanceof Blob || body instanceof ArrayBuffer || ArrayBuffer.isView(body);
  if (body !== undefined && body !== null && !binary && typeof body === "object") {
    body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, { method, body, headers, credentials: "same-origin" });
  if (res.status === 401 && !path.startsWith("/v1/auth/session")) signedOut(t("登录已过期，请重新登录", "Your session ended; sign in again"));
  if (opts.raw) return res;
  const text = await res.text();
  let json = {};
  try { json = text ? JSON.parse(text) : {}; } catch { json = { message: text }; }
  if (!res.ok) throw new ApiError(res.status, json.code, json.message);
  return json;
}

// ---- the schema's words ----------------------------------------------------

let schema = null;
const byName = {};
async function loadSchema() {
  schema = await (await fetch("/v1/schema")).json();
  for (const c of schema.collections) {
    const fields = {};
    for (const f of c.fields) {
      fields[f.name] = f;
      for (const e of f.entry || []) fields[f.name + "." + e.name] = e;
    }
    byName[c.name] = { def: c, fields };
  }
}
const collection = (name) => L((byName[name] || {}).def && byName[name].def.label) || name;
const field = (c, f) => L(((byName[c] || {}).fields || {})[f] && byName[c].fields[f].label) || f;
const value = (c, f, code) => {
  if (code === null || code === undefined) return "";
  const def = ((byName[c] || {}).fields || {})[f];
  const labels = def && def.value_labels;
  return (labels && labels[code] && L(labels[code])) || String(code);
};
const choice = (list, code) => L(((schema && schema[list]) || []).find((x) => x.code === code)?.label) || code;
const level = (code) => choice("levels", code);
const list = (code) => choice("overdue_lists", code);

// ---- the org tree ------------------------------------------------------------

let allNodes = [];
const names = new Map();
// The nodes at and under `root`, in tree order (children by name).
function subtree(root) {
  const kids = new Map();
  for (const n of allNodes) {
    if (!kids.has(n.parent)) kids.set(n.parent, []);
    kids.get(n.parent).push(n);
  }
  for (const k of kids.values()) k.sort((a, b) => a.code.localeCompare(b.code));
  const out = [];
  const walk = (n) => { out.push(n); for (const c of kids.get(n.code) || []) walk(c); };
  const start = allNodes.find((n) => n.code === root);
  if (start) walk(start);
  return out;
}
const nodeName = (code) => names.get(code) || code || "";

// ---- the session -------------------------------------------------------------

let user = null;

function signedOut(message) {
  user = null;
  csrf = null;
  $("view").replaceChildren();
  $("nav").replaceChildren();
  $("who").textContent = "";
  $("sign-out").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  document.body.dataset.session = "none";
  status("", "done");
  $("username").focus();
}

async function signedIn(answer) {
  user = answer.user;
  csrf = answer.csrf_token;
  lastRenew = Date.now();
  const tree = await api("/v1/org/nodes");
  allNodes = tree.nodes || [];
  names.clear();
  for (const n of allNodes) names.set(n.code, n.name);
  $("login-view").hidden = true;
  $("sign-out").hidden = false;
  document.body.dataset.session = "signed-in";
  document.body.dataset.role = user.role;
  words();
  route();
}

async function signIn(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const answer = await api("/v1/auth/session", {
      method: "POST",
      body: { username: $("username").value.trim(), password: $("password").value },
    });
    $("password").value = "";
    await signedIn(answer);
  } catch (e) {
    $("login-error").textContent = e.code === "invalid_credentials"
      ? t("账号或密码不对", "Wrong username or password")
      : e.code === "too_many_attempts" ? t("尝试次数过多，请稍后再试", "Too many attempts; try again later")
      : t("登录失败：", "Sign-in failed: ") + e.message;
  }
}

async function signOut() {
  try { await api("/v1/auth/session", { method: "DELETE" }); } catch { /* gone already */ }
  location.hash = "";
  signedOut(t("已退出", "Signed out"));
}

// The server ends a session idle for its timeout; activity renews it, at most
// once a minute.
async function renew() {
  if (!user || Date.now() - lastRenew < 60e3) return;
  lastRenew = Date.now();
  try {
    const answer = await api("/v1/auth/session");
    csrf = answer.csrf_token;
  } catch (e) {
    if (e.status === 401) signedOut(t("登录已过期，请重新登录", "Your session ended; sign in again"));
  }
}

// ---- the frame -----------------------------------------------------------------

const ROLE = {
  admin: ["管理员", "Admin"], supervisor: ["主管", "Supervisor"], department: ["部门", "Department"],
  grid_worker: ["网格员", "Grid worker"], patrol: ["巡逻队员", "Patrol"], police: ["民警", "Police"],
  mediator: ["调解员", "Mediator"],
};

// Where each role starts, and what its menu holds.
function menu(role) {
  const work = [["#/queue", "待办", "Queue"]];
  const understand = [["#/dashboard", "研判", "Dashboard"], ["#/map", "地图", "Map"], ["#/search", "搜索", "Search"], ["#/brief", "简报", "Brief"]];
  const decide = [["#/conflicts", "冲突", "Conflicts"], ["#/quarantine", "退回修改", "Quarantine"], ["#/duplicates", "重复人员", "Duplicates"]];
  const admin = [["#/admin/users", "用户", "Users"], ["#/admin/devices", "设备", "Devices"], ["#/admin/org", "组织", "Org tree"],
    ["#/admin/import", "导入", "Import"], ["#/admin/audit", "审计", "Audit"]];
  if (role === "admin") return admin.concat(understand.slice(0, 1));
  if (role === "supervisor") return work.concat(understand, decide, [["#/admin/devices", "设备", "Devices"]]);
  if (role === "department") return work.concat([["#/search", "搜索", "Search"]]);
  return work.concat([["#/search", "搜索", "Search"], ["#/conflicts", "冲突", "Conflicts"]]);
}
const startPage = (role) => (role === "admin" ? "#/admin/users" : "#/queue");

function words() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  $("lang").textContent = lang === "en" ? "中文" : "EN";
  $("lang").lang = lang === "en" ? "zh-CN" : "en";
  $("sign-out").textContent = t("退出", "Sign out");
  $("login-title").textContent = t("登录", "Sign in");
  $("l-username").textContent = t("账号", "Username");
  $("l-password").textContent = t("密码", "Password");
  $("login").textContent = t("登录", "Sign in");
  if (!user) return;
  $("who").textContent = `${user.full_name || user.username} · ${t(...(ROLE[user.role] || [user.role]))} · ${nodeName(user.node)}`;
  const here = location.hash.split("?")[0];
  $("nav").replaceChildren(...menu(user.role).map(([href, zh, en]) =>
    h("a", { href, "aria-current": here === href ? "page" : null }, t(zh, en))));
}

function status(text, state) {
  const s = $("status");
  s.textContent = text || "";
  s.dataset.state = state || "";
}

// ---- the router ------------------------------------------------------------------

const MODULES = {
  dashboard: "dashboard.js", search: "dashboard.js", map: "dashboard.js", brief: "dashboard.js",
  admin: "admin.js", queue: "cases.js", case: "cases.js",
  conflicts: "decide.js", quarantine: "decide.js", duplicates: "decide.js",
};
let generation = 0;

function ctx() {
  return {
    api, user, lang, t, schema, L, collection, field, value, level, list,
    nodes: subtree(user.node), allNodes, nodeName, go, h, status,
    fresh: (g) => g === generation,
  };
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (!user) return;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  if (!path) { go(startPage(user.role)); return; }
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  params.page = path;
  const [head, rest] = [path.split("/")[0], path.split("/").slice(1).join("/")];
  if (head === "case") params.id = rest;
  words();
  const g = ++generation;
  const view = h("main", { id: "view", tabindex: "-1", dataset: { page: head } });
  $("view").dispatchEvent(new Event("desk:leave"));
  $("view").replaceWith(view);
  const file = MODULES[head];
  if (!file) {
    view.append(h("p", {}, t("没有这个页面。", "No such page.")));
    status(t("没有这个页面", "No such page"), "error");
    return;
  }
  status(t("加载中…", "Loading…"), "loading");
  try {
    const mod = await import("/desk/" + file);
    if (g !== generation) return;
    await mod.render(view, ctx(), params);
  } catch (e) {
    if (g !== generation) return;
    console.error(e);
    const msg = e.status === 403 ? t("无权查看此页", "You may not see this page")
      : e.status === 401 ? t("请重新登录", "Sign in again")
      : t("出错：", "Error: ") + (e.message || e);
    view.append(h("p", { class: "error", role: "alert" }, msg));
    status(msg, "error");
  }
}

// ---- start -------------------------------------------------------------------------

async function start() {
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("lang").addEventListener("click", () => {
    lang = lang === "en" ? "zh" : "en";
    localStorage.setItem("gridsync.lang", lang);
    words();
    route();
  });
  window.addEventListener("hashchange", route);
  for (const ev of ["click", "keydown"]) document.addEventListener(ev, renew, { passive: true });
  words();
  await loadSchema();
  try {
    const answer = await api("/v1/auth/session");
    await signedIn(answer);
  } catch {
    signedOut("");
  }
}

start();
