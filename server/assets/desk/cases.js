// The desk's casework (issue 17, item 2): each level's queue, and the case
// page with its timeline, fields, logs, photos and department tasks, and the
// actions its flow allows. Every action is `POST /v1/records/{id}/edits`: a
// change by the person's desk actor, merged like a phone's (docs/WORKFLOWS.md,
// "Acting from the desk").

export async function render(view, ctx, params) {
  if (params.page.startsWith("case/")) return casePage(view, ctx, params);
  return queue(view, ctx, params);
}

const DAY = 86400e3;
let pageUrls = []; // the case page's object URLs, revoked when it is left
const scalar = (rec, f) => {
  const v = (rec.fields || {})[f];
  return v && typeof v === "object" && "value" in v ? v.value : null;
};
const def = (ctx, name) => ctx.schema.collections.find((c) => c.name === name);

// A record's name in a list: its collection's title field, else its id.
export function titleOf(ctx, rec) {
  const d = def(ctx, rec.collection);
  const f = d && d.title && d.title.field;
  const v = f && scalar(rec, f);
  return v ? String(v).slice(0, 60) : `${ctx.collection(rec.collection)} ${rec.id.slice(0, 8)}`;
}

// RFC 3339 → China time to the minute.
export const chinaTime = (iso) => (iso ? new Date(Date.parse(iso) + 8 * 3600e3).toISOString().slice(0, 16).replace("T", " ") : "");

// An assignee (`user:NAME`, `department:CODE`) in words.
function assigneeText(ctx, a) {
  if (!a) return "";
  if (a.startsWith("department:")) return ctx.nodeName(a.slice(11));
  if (a.startsWith("user:")) return a.slice(5);
  return a;
}

// ---- the queue -------------------------------------------------------------

const TABS = [
  ["inbox", "我的待办", "My inbox"],
  ["new", "新上报", "New"],
  ["accept", "待受理", "To accept"],
  ["dispatch", "待派遣", "To dispatch"],
  ["dispatched", "已派遣", "Dispatched"],
  ["due_soon", "即将到期", "Due soon"],
  ["overdue", "已超期", "Overdue"],
  ["escalated", "上报至本级", "Escalated to us"],
];

// Which tab a case of the node's list belongs to (a case may be in several).
export function inTab(tab, rec, flow, nodeLevel, now) {
  const status = scalar(rec, "status");
  const initial = !!flow && flow.initial.includes(status);
  const assignee = scalar(rec, "assignee");
  const due = rec.deadline ? Date.parse(rec.deadline) : null;
  switch (tab) {
    case "new": return initial && now - Date.parse(rec.created_at) < DAY;
    case "accept": return initial;
    case "dispatch": return !initial && !assignee;
    case "dispatched": return !!assignee;
    case "due_soon": return !rec.overdue && due !== null && due - now < DAY;
    case "overdue": return rec.overdue;
    case "escalated": return nodeLevel !== "grid" && rec.level === nodeLevel;
    default: return false;
  }
}

async function openCases(ctx, node) {
  const out = [];
  let after = null;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ limit: "1000" });
    if (after) q.set("after", after);
    const r = await ctx.api(`/v1/nodes/${encodeURIComponent(node)}/cases?${q}`);
    out.push(...r.records);
    if (!r.next) break;
    after = r.next;
  }
  return out.filter((rec) => {
    const d = def(ctx, rec.collection);
    return !rec.closed_at && !(d && d.flow && d.flow.terminal.includes(scalar(rec, "status")));
  });
}

async function queue(view, ctx, params) {
  const { h, t } = ctx;
  const role = ctx.user.role;
  const readsCases = role !== "admin";
  const nodes = ctx.nodes.filter((n) => n.level !== "department" || n.code === ctx.user.node);
  const node = params.node && nodes.some((n) => n.code === params.node) ? params.node : ctx.user.node;
  const here = nodes.find((n) => n.code === node) || { level: "" };
  const tab = params.tab || (role === "supervisor" ? "accept" : "inbox");
  const tabs = here.level === "department" ? TABS.filter(([k]) => ["inbox", "dispatched", "due_soon", "overdue"].includes(k)) : TABS;
  const nav = (patch) => ctx.go("#/queue?" + new URLSearchParams({ node, tab, ...patch }));

  const picker = h("select", { id: "queue-node", "on:change": (e) => nav({ node: e.target.value }) },
    nodes.map((n) => h("option", { value: n.code, selected: n.code === node }, "\u3000".repeat(depth(ctx, n)) + n.name)));
  const counts = {};
  const tabBar = h("div", { class: "tabs", role: "tablist" });
  const body = h("div", { id: "queue-body" });
  view.append(h("h2", {}, t("待办", "Queue"), " · ", ctx.nodeName(node)),
    h("label", { class: "inline" }, t("节点 ", "Node "), picker), tabBar, body);

  let cases = [];
  let inbox = null;
  if (readsCases) cases = await openCases(ctx, node);
  if (role !== "admin") inbox = await ctx.api("/v1/inbox").catch(() => null);
  const now = Date.now();
  const flowOf = (c) => (def(ctx, c) || {}).flow;
  for (const [k] of tabs) {
    counts[k] = k === "inbox" ? (inbox ? inbox.items.length : 0) : cases.filter((r) => inTab(k, r, flowOf(r.collection), here.level, now)).length;
  }
  tabBar.append(...tabs.map(([k, zh, en]) => h("a", {
    href: "#/queue?" + new URLSearchParams({ node, tab: k }), role: "tab", "aria-selected": k === tab ? "true" : "false",
    dataset: { tab: k }, class: k === tab ? "tab on" : "tab",
  }, t(zh, en), h("span", { class: "count" }, String(counts[k])))));

  if (tab === "inbox") {
    body.append(inboxTable(ctx, inbox));
  } else {
    const rows = cases.filter((r) => inTab(tab, r, flowOf(r.collection), here.level, now))
      .sort((a, b) => (a.deadline || "9").localeCompare(b.deadline || "9"));
    body.append(caseTable(ctx, rows));
  }
  ctx.status(t(`共 ${cases.length} 件在办`, `${cases.length} open cases`), "done");
}

function depth(ctx, n) {
  let d = 0;
  for (let p = n.parent; p && d < 6; d++) p = (ctx.allNodes.find((x) => x.code === p) || {}).parent;
  const root = ctx.nodes[0];
  let r = 0;
  for (let p = root && root.parent; p && r < 6; r++) p = (ctx.allNodes.find((x) => x.code === p) || {}).parent;
  return Math.max(0, d - r);
}

function caseTable(ctx, rows) {
  const { h, t } = ctx;
  if (!rows.length) return h("p", { class: "muted" }, t("没有案件。", "No cases."));
  const head = [t("标题", "Title"), t("类别", "Kind"), t("网格", "Grid"), t("状态", "Status"), t("层级", "Level"),
    t("承办", "Assignee"), t("期限", "Due")];
  return h("table", { class: "cases" },
    h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: { id: r.id }, class: r.overdue ? "late" : null },
      h("td", { "data-key": "title" }, h("a", { href: `#/case/${r.id}?grid=${encodeURIComponent(r.grid)}` }, titleOf(ctx, r))),
      h("td", {}, ctx.collection(r.collection)),
      h("td", {}, ctx.nodeName(r.grid)),
      h("td", { "data-key": "status" }, ctx.value(r.collection, "status", scalar(r, "status"))),
      h("td", {}, ctx.level(r.level)),
      h("td", { "data-key": "assignee" }, assigneeText(ctx, scalar(r, "assignee"))),
      h("td", {}, chinaTime(r.deadline), r.overdue ? h("span", { class: "badge late" }, t("超期", "late")) : null)))));
}

const KINDS = {
  assigned: ["交办给我", "Assigned to me"], overdue: ["已超期", "Overdue"], due_soon: ["24小时内到期", "Due within 24 h"],
  escalated: ["上报至本级", "Escalated to us"], conflict: ["待裁决冲突", "Conflicts"], quarantined: ["待处理的退回修改", "Quarantined"],
};

function inboxTable(ctx, inbox) {
  const { h, t } = ctx;
  if (!inbox) return h("p", { class: "muted" }, t("没有待办。", "Nothing to do."));
  if (!inbox.items.length) return h("p", { class: "muted" }, t("没有待办。", "Nothing to do."));
  return h("table", { class: "inbox" },
    h("thead", {}, h("tr", {}, [t("类型", "Kind"), t("标题", "Title"), t("网格", "Grid"), t("状态", "Status"), t("期限", "Due")]
      .map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, inbox.items.map((i) => {
      const link = i.kind === "quarantined" ? "#/quarantine" : i.kind === "conflict" ? `#/conflicts?record=${i.record}`
        : `#/case/${i.record}?grid=${encodeURIComponent(i.grid || "")}`;
      return h("tr", { dataset: { kind: i.kind, id: i.record || "" } },
        h("td", {}, t(...(KINDS[i.kind] || [i.kind]))),
        h("td", {}, h("a", { href: link }, i.label || i.code || i.record)),
        h("td", {}, ctx.nodeName(i.grid)),
        h("td", {}, i.collection && i.status ? ctx.value(i.collection, "status", i.status) : (i.code || "")),
        h("td", {}, chinaTime(i.deadline)));
    })));
}

// ---- the case page ------------------------------------------------------------

async function casePage(view, ctx, params) {
  const { h, t } = ctx;
  const q = new URLSearchParams({ history: "200" });
  if (params.grid) q.set("grid", params.grid);
  const detail = await ctx.api(`/v1/records/${encodeURIComponent(params.id)}?${q}`);
  const rec = detail.record;
  const d = def(ctx, rec.collection);
  const status = scalar(rec, "status");
  view.dataset.id = rec.id;
  view.dataset.status = status || "";
  const urls = [];
  pageUrls = urls;
  view.addEventListener("desk:leave", () => urls.forEach(URL.revokeObjectURL));

  // Fields: every scalar and set, in the schema's order.
  const dl = h("dl", { class: "fields", id: "case-fields" });
  for (const f of d.fields) {
    const v = rec.fields[f.name];
    if (f.kind === "log" || f.kind === "level" || v === undefined || v === null) continue;
    let shown;
    if (f.kind === "set") shown = v.map((m) => ctx.value(rec.collection, f.name, m)).join("、");
    else if (f.kind === "counter") shown = String(v);
    else shown = show(ctx, rec.collection, f, v.value);
    if (shown === "") continue;
    dl.append(h("dt", {}, ctx.field(rec.collection, f.name)),
      h("dd", { "data-key": f.name }, shown, v.conflict && v.conflict.length
        ? h("a", { class: "badge conflict", href: `#/conflicts?record=${rec.id}&grid=${rec.grid}` }, t("冲突，待裁决", "conflict: decide")) : null));
  }
  dl.append(h("dt", {}, t("层级", "Level")), h("dd", { "data-key": "level" }, ctx.level(rec.level)));
  if (rec.deadline) {
    dl.append(h("dt", {}, t("期限", "Due")), h("dd", { "data-key": "deadline" }, chinaTime(rec.deadline),
      rec.overdue ? h("span", { class: "badge late" }, t("已超期", "overdue")) : null));
  }
  dl.append(h("dt", {}, t("网格", "Grid")), h("dd", {}, ctx.nodeName(rec.grid)));

  const stored = new Map((detail.attachments || []).map((a) => [a.sha256, a]));
  const logs = d.fields.filter((f) => f.kind === "log");
  const photos = h("div", { class: "photos", id: "case-photos" });
  for (const f of logs) {
    for (const e of rec.fields[f.name] || []) {
      const att = e.fields && e.fields.photo;
      if (att && att.sha256) photos.append(tile(ctx, att, stored.get(att.sha256), e, rec.collection, f.name, urls));
    }
  }
  if (!photos.children.length) photos.append(h("p", { class: "muted" }, t("没有照片。", "No photos.")));

  view.append(
    h("p", { class: "crumbs no-print" }, h("a", { href: "#/queue" }, t("待办", "Queue")), " › ", ctx.nodeName(rec.grid)),
    h("h2", { id: "case-title" }, ctx.collection(rec.collection), " · ", titleOf(ctx, rec),
      status ? h("span", { class: "badge status", id: "case-status" }, ctx.value(rec.collection, "status", status)) : null),
    h("div", { class: "case-grid" },
      h("section", { class: "case-main" }, dl, actions(ctx, rec, d), h("h3", {}, t("照片", "Photos")), photos,
        logs.map((f) => logTable(ctx, rec, f))),
      h("section", { class: "case-side" }, await tasks(ctx, rec), timeline(ctx, detail))));
  ctx.status(t("已加载", "Loaded"), "done");
}

function show(ctx, collection, f, v) {
  if (v === null || v === undefined) return "";
  if (f.type === "enum") return ctx.value(collection, f.name, v);
  if (f.type === "datetime") return chinaTime(v);
  if (f.type === "geo" && typeof v === "object") return `${v.lat}, ${v.lng}`;
  if (f.type === "attachment" && typeof v === "object") return v.caption || ctx.t("附件", "attachment");
  if (f.name === "assignee") return assigneeText(ctx, v);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function logTable(ctx, rec, f) {
  const { h, t } = ctx;
  const entries = rec.fields[f.name] || [];
  const cols = (f.entry || []).map((e) => e.name).filter((n) => n !== "photo");
  const photo = (f.entry || []).some((e) => e.name === "photo") && f.name !== "photos";
  return h("div", { class: "log" }, h("h3", {}, ctx.field(rec.collection, f.name), ` (${entries.length})`),
    entries.length ? h("table", { id: "log-" + f.name },
      h("thead", {}, h("tr", {}, h("th", {}, t("时间", "Time")), cols.map((c) => h("th", {}, ctx.field(rec.collection, f.name + "." + c))),
        photo ? h("th", {}, ctx.field(rec.collection, f.name + ".photo")) : null)),
      h("tbody", {}, entries.map((e) => h("tr", {}, h("td", {}, chinaTime(e.at)),
        cols.map((c) => h("td", { "data-key": c }, show(ctx, rec.collection, { ...(f.entry.find((x) => x.name === c) || {}), name: f.name + "." + c }, (e.fields || {})[c]))),
        photo ? h("td", { "data-key": "photo" }, e.fields && e.fields.photo ? h("button", { type: "button",
          "on:click": () => openPhoto(ctx, e.fields.photo, ctx.field(rec.collection, f.name), pageUrls) }, t("查看", "View")) : null) : null)))) : null);
}

// One photo: its thumbnail (fetched with the session), or why it cannot be shown.
function tile(ctx, att, info, entry, collection, log, urls) {
  const { h, t } = ctx;
  const stage = entry.fields.stage ? ctx.value(collection, log + ".stage", entry.fields.stage) : ctx.field(collection, log);
  const box = h("figure", { class: "photo", dataset: { sha256: att.sha256, state: "loading" } });
  const cap = h("figcaption", {}, h("span", { class: "stage" }, stage), " ", att.caption || "", entry.fields.note ? h("span", { class: "note" }, entry.fields.note) : null);
  if (info && info.stored === false) {
    box.dataset.state = "pending";
    box.append(h("div", { class: "thumb" }, t("照片尚未上传", "Photo not uploaded yet")), cap);
    return box;
  }
  const link = h("button", { type: "button", class: "thumb", title: t("查看原图", "Open full size"), "on:click": () => openPhoto(ctx, att, stage, urls) });
  box.append(link, cap);
  if (att.media_type === "application/pdf") {
    box.dataset.state = "document";
    link.append("PDF");
    return box;
  }
  ctx.api(`/v1/attachments/${att.sha256}/thumbnail`, { raw: true }).then(async (res) => {
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      box.dataset.state = "error";
      link.textContent = res.status === 403 ? t("无权查看", "Not yours to see")
        : j.code === "attachment_pending" ? t("照片尚未上传", "Photo not uploaded yet")
        : j.code === "no_thumbnail" ? t("无预览，点击查看", "No preview: open it") : t("无法显示", "Cannot be shown");
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    urls.push(url);
    const img = h("img", { alt: att.caption || stage });
    img.addEventListener("load", () => { box.dataset.state = "shown"; });
    img.src = url;
    link.replaceChildren(img);
  });
  return box;
}

// The full photo (or PDF) over the page, fetched with the session; why not,
// when it cannot be shown.
async function openPhoto(ctx, att, stage, urls) {
  const { h, t } = ctx;
  document.getElementById("photo-view")?.remove();
  const body = h("div", { id: "photo-body" }, t("加载中…", "Loading…"));
  const close = h("button", { type: "button", id: "photo-close", class: "close", "on:click": () => viewer.remove() }, t("关闭", "Close"));
  const viewer = h("div", { id: "photo-view", role: "dialog", "aria-modal": "true", "aria-label": stage, dataset: { state: "loading" },
    "on:keydown": (e) => { if (e.key === "Escape") viewer.remove(); } },
  close, body, h("p", { id: "photo-caption" }, stage, " ", att.caption || ""));
  (document.getElementById("view") || document.body).append(viewer);
  close.focus();
  const res = await ctx.api(`/v1/attachments/${att.sha256}`, { raw: true });
  if (!res.ok) {
    const j = await res.json().catch(() => ({}));
    viewer.dataset.state = "error";
    body.textContent = res.status === 403 ? t("无权查看", "Not yours to see")
      : j.code === "attachment_pending" ? t("照片尚未上传", "Photo not uploaded yet")
      : j.code === "attachment_missing" ? t("照片已丢失（服务器上找不到）", "Photo missing on the server")
      : t("无法显示", "Cannot be shown") + ` (${res.status})`;
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  urls.push(url);
  const shown = att.media_type === "application/pdf"
    ? h("iframe", { src: url, title: att.caption || stage })
    : h("img", { id: "photo-full", src: url, alt: att.caption || stage });
  body.replaceChildren(shown, h("p", {}, h("a", { href: url, download: (att.caption || att.sha256.slice(0, 12)) }, t("下载", "Download"))));
  viewer.dataset.state = "shown";
}

// The change history: who (their desk or phone), when, what.
function timeline(ctx, detail) {
  const { h, t } = ctx;
  const authors = detail.authors || {};
  const items = [...(detail.history || [])].reverse().map((c) => {
    const a = authors[c.actor];
    const who = a ? `${a.full_name || a.username}（${a.device === "desk" ? t("网页端", "desk") : a.device}）` : t("系统", "server");
    const what = (c.change.ops || []).map((op) => describe(ctx, detail.record.collection, op));
    return h("li", { dataset: { actor: String(c.actor) } },
      h("time", {}, chinaTime(c.received_at)), " ", h("strong", { class: "author" }, who),
      h("span", { class: "what" }, what.filter(Boolean).join("；") || t("修改", "changed")));
  });
  return h("div", { class: "timeline" }, h("h3", {}, t("经过", "Timeline")), h("ol", { id: "timeline" }, items));
}

// One operation of a change in words.
function describe(ctx, collection, op) {
  const [kind, o] = Object.entries(op)[0] || [];
  if (!o) return "";
  const name = o.field ? ctx.field(collection, o.field) : "";
  switch (kind) {
    case "set": {
      const def = (ctx.schema.collections.find((c) => c.name === collection)?.fields || []).find((f) => f.name === o.field) || { name: o.field };
      return `${name}：${typeof o.value === "object" && o.value && !("lat" in o.value) ? "…" : show(ctx, collection, def, o.value)}`;
    }
    case "append": return `${name} +1`;
    case "members": return `${name} ${(o.add || []).map((m) => "+" + m).concat((o.remove || []).map((m) => "−" + m)).join(" ")}`;
    case "escalate": return `${ctx.t("上报", "escalated")} ${ctx.level(o.from)} → ${ctx.level(o.to)}`;
    case "increment": return `${name} +${o.by}`;
    case "delete": return ctx.t("删除", "deleted");
    case "restore": return ctx.t("恢复", "restored");
    default: return kind;
  }
}

// A hazard's department tasks (records of `hazard_task` naming it).
async function tasks(ctx, rec) {
  const { h, t } = ctx;
  if (rec.collection !== "hazard" || !ctx.schema.collections.some((c) => c.name === "hazard_task")) return null;
  let list = [];
  try {
    const r = await ctx.api(`/v1/grids/${encodeURIComponent(rec.grid)}/records?collection=hazard_task&limit=1000`);
    list = r.records.filter((x) => scalar(x, "hazard") === rec.id);
  } catch { return null; }
  return h("div", { class: "tasks" }, h("h3", {}, t("部门任务", "Department tasks"), ` (${list.length})`),
    list.length ? h("ul", { id: "case-tasks" }, list.map((x) => h("li", {},
      h("a", { href: `#/case/${x.id}?grid=${encodeURIComponent(x.grid)}` }, assigneeText(ctx, scalar(x, "assignee")), "：", scalar(x, "task") || ""),
      " · ", ctx.value("hazard_task", "status", scalar(x, "status"))))) : h("p", { class: "muted" }, t("没有部门任务。", "No department tasks.")));
}

// ---- actions ---------------------------------------------------------------------

function actions(ctx, rec, d) {
  const { h, t } = ctx;
  const box = h("section", { class: "actions no-print", id: "case-actions", "aria-label": t("办理", "Act") });
  const said = h("p", { class: "said", role: "status", id: "action-result" });
  const status = scalar(rec, "status");
  const flow = d.flow;
  const names = d.fields.map((f) => f.name);

  const send = async (edit, what) => {
    said.textContent = t("提交中…", "Sending…");
    said.dataset.state = "loading";
    try {
      const r = await ctx.api(`/v1/records/${rec.id}/edits?grid=${encodeURIComponent(rec.grid)}`, { method: "POST", body: edit });
      const ok = r.result && (r.result.status === "applied" || r.result.status === "duplicate");
      said.textContent = ok ? t(`已${what}`, `Done: ${what}`) : t("未生效：", "Not applied: ") + JSON.stringify(r.result);
      said.dataset.state = ok ? "done" : "error";
      if (ok) ctx.go(location.hash);
    } catch (e) {
      said.textContent = (e.code ? e.code + "：" : "") + e.message;
      said.dataset.state = "error";
    }
  };

  // Status moves the flow allows from here.
  const moves = flow ? ((flow.moves.find(([from]) => from === status) || [])[1] || []) : [];
  const row = h("div", { class: "buttons" });
  for (const to of moves) {
    if (to === "dispatched") continue; // the dispatch form below
    const word = ctx.value(rec.collection, "status", to);
    row.append(h("button", { type: "button", dataset: { to }, "on:click": () => send({ set: { status: to } }, word) }, word));
  }
  const top = ctx.schema.levels.length ? ctx.schema.levels[ctx.schema.levels.length - 1].code : "district";
  if (rec.level && rec.level !== top && ctx.user.role === "supervisor" && !(flow && flow.terminal.includes(status))) {
    row.append(h("button", { type: "button", id: "escalate", "on:click": () => send({ escalate: true }, t("上报", "escalated")) }, t("上报上级", "Escalate")));
  }
  if (row.children.length) box.append(h("h3", {}, t("办理", "Act")), row);

  // Dispatch to a department or a person.
  if (names.includes("assignee") && ctx.user.role === "supervisor") {
    const depts = ctx.allNodes.filter((n) => n.level === "department");
    const to = h("select", { id: "dispatch-to", name: "assignee" },
      h("option", { value: "" }, t("选择部门", "Pick a department")),
      depts.map((n) => h("option", { value: "department:" + n.code }, n.name)));
    const person = h("input", { id: "dispatch-user", name: "user", placeholder: t("或账号", "or a username") });
    const move = moves.includes("dispatched");
    box.append(h("form", { class: "dispatch", id: "dispatch-form", "on:submit": (e) => {
      e.preventDefault();
      const assignee = person.value.trim() ? "user:" + person.value.trim() : to.value;
      if (!assignee) { said.textContent = t("请选择承办部门或人员", "Pick whom to dispatch to"); return; }
      const set = { assignee };
      if (move) set.status = "dispatched";
      send({ set }, t("派遣", "dispatched"));
    } }, h("label", {}, t("派遣给 ", "Dispatch to "), to), h("label", {}, t(" 或人员 ", " or person "), person),
    h("button", { type: "submit" }, move ? t("派遣", "Dispatch") : t("改派", "Reassign"))));
  }

  // A note, or a photo with its stage, into the case's logs.
  const photoLog = d.fields.find((f) => f.kind === "log" && (f.entry || []).some((e) => e.name === "photo" && e.required));
  const noteLog = d.fields.find((f) => f.kind === "log" && (f.entry || []).some((e) => e.name === "note") && (f.entry || []).some((e) => e.name === "action"));
  if (noteLog) {
    const note = h("textarea", { id: "note-text", name: "note", rows: "2" });
    box.append(h("form", { class: "note", id: "note-form", "on:submit": (e) => {
      e.preventDefault();
      if (!note.value.trim()) return;
      send({ append: { [noteLog.name]: [{ fields: { action: "note", note: note.value.trim() } }] } }, t("记录", "noted"));
    } }, h("label", {}, t("办理记录 ", "Note "), note), h("button", { type: "submit" }, t("添加记录", "Add note"))));
  }
  if (photoLog) {
    const stageDef = photoLog.entry.find((e) => e.name === "stage");
    const file = h("input", { id: "photo-file", name: "photo", type: "file", accept: "image/jpeg,image/png,image/webp,application/pdf" });
    const stage = stageDef ? h("select", { id: "photo-stage", name: "stage" }, (stageDef.values || []).map((v) =>
      h("option", { value: v, selected: v === "after" }, ctx.value(rec.collection, photoLog.name + ".stage", v)))) : null;
    const note = h("input", { id: "photo-note", name: "note" });
    box.append(h("form", { class: "photo-form", id: "photo-form", "on:submit": async (e) => {
      e.preventDefault();
      const f = file.files[0];
      if (!f) return;
      said.textContent = t("上传中…", "Uploading…");
      try {
        const att = await attach(ctx, f);
        const fields = { photo: att };
        if (stage) fields.stage = stage.value;
        if (note.value.trim()) fields.note = note.value.trim();
        const r = await ctx.api(`/v1/records/${rec.id}/edits?grid=${encodeURIComponent(rec.grid)}`,
          { method: "POST", body: { append: { [photoLog.name]: [{ fields }] } } });
        if (r.result && r.result.status && r.result.status !== "applied") throw new Error(JSON.stringify(r.result));
        await upload(ctx, f, att);
        said.textContent = t("照片已上传", "Photo uploaded");
        said.dataset.state = "done";
        ctx.go(location.hash);
      } catch (err) {
        said.textContent = (err.code ? err.code + "：" : "") + err.message;
        said.dataset.state = "error";
      }
    } }, h("label", {}, t("照片 ", "Photo "), file), stage ? h("label", {}, t(" 阶段 ", " Stage "), stage) : null,
    h("label", {}, t(" 说明 ", " Note "), note), h("button", { type: "submit" }, t("上传照片", "Upload photo"))));
  }
  box.append(said);
  return box;
}

// A file as the attachment value a record refers to.
async function attach(ctx, file) {
  const bytes = await file.arrayBuffer();
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const att = { sha256, media_type: file.type || "image/jpeg", size: bytes.byteLength };
  const caption = file.name.replace(/\.[^.]*$/, "").slice(0, 200);
  if (caption) att.caption = caption;
  return att;
}

// Send the bytes once the change referring to them is in (docs/PROTOCOL.md,
// "Attachments"): ask, then chunks from the acknowledged offset.
async function upload(ctx, file, att) {
  let s = await ctx.api("/v1/attachments", { method: "POST", body: { sha256: att.sha256, media_type: att.media_type, size: att.size } });
  while (s.state !== "stored") {
    const chunk = file.slice(s.offset, Math.min(att.size, s.offset + (s.chunk_size || 1048576)));
    s = await ctx.api(`/v1/attachments/uploads/${s.upload}`, {
      method: "PATCH", body: chunk,
      headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(s.offset) },
    });
  }
  return s;
}
