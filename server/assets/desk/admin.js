// The desk's admin screens (docs/ACCESS.md): users, devices, the org tree
// and departments, importing registers, the audit log. One module, routed
// by `params.page` (`admin/users`, `admin/devices`, `admin/org`,
// `admin/import`, `admin/audit`); everything through `ctx.api`.

const PAGES = [
  ["users", "用户", "Users", ["admin"]],
  ["devices", "设备", "Devices", ["admin", "supervisor"]],
  ["org", "组织架构", "Org tree", ["admin"]],
  ["import", "导入台账", "Import", ["admin", "supervisor"]],
  ["audit", "审计日志", "Audit log", ["admin"]],
];

const ROLES = {
  grid_worker: ["网格员", "Grid worker"],
  patrol: ["巡逻队员", "Patrol"],
  police: ["社区民警", "Police"],
  mediator: ["调解员", "Mediator"],
  supervisor: ["综治中心", "Supervisor"],
  department: ["部门人员", "Department"],
  admin: ["管理员", "Admin"],
};

const LEVELS = {
  district: ["区", "District"],
  park: ["园区/街道", "Park"],
  community: ["社区", "Community"],
  grid: ["网格", "Grid"],
  department: ["部门", "Department"],
};
// The level a node's children have; a district has parks and departments.
const CHILDREN = { district: ["park", "department"], park: ["community"], community: ["grid"] };
const ORDER = { district: 0, department: 1, park: 2, community: 3, grid: 4 };

const IMPORTABLE = ["household", "place", "resident"];
const ACTIONS = ["create_user", "update_user", "create_node", "update_node", "revoke_device",
  "import_registers", "read_key_person", "sync_key_persons", "quarantine_accept",
  "quarantine_reject", "device_handover", "export_report", "report_key_persons"];

// An element: attrs `class`, `dataset`, `on:event` handlers, and others as
// attributes (true: present, false/null/undefined: left out).
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on:")) e.addEventListener(k.slice(3), v);
    else if (k === "value") e.value = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
  return e;
}

// ms since the epoch as China time, to the minute.
const when = (ms) => (ms ? new Date(ms + 8 * 3600e3).toISOString().slice(0, 16).replace("T", " ") : "");
const today = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);

export async function render(view, ctx, params) {
  const t = ctx.t;
  const page = String(params.page || "admin/users").split("/")[1] || "users";
  const mine = PAGES.filter((p) => p[3].includes(ctx.user.role));
  const screen = SCREENS[page] && mine.some((p) => p[0] === page) ? page : (mine[0] || [null])[0];
  view.classList.add("admin");
  const nav = h("nav", { class: "admin-nav", "aria-label": t("管理", "Administration") },
    mine.map(([p, zh, en]) => h("a", { href: "#/admin/" + p, "aria-current": p === screen ? "page" : false }, t(zh, en))));
  const body = h("div", { class: "admin-body" });
  view.replaceChildren(nav, body);
  if (!screen) {
    body.append(h("p", { class: "admin-error", role: "alert" }, t("您的角色没有管理页面。", "Your role has no administration pages.")));
    ctx.status("", "done");
    return;
  }
  const a = kit(ctx, body);
  ctx.status(t("加载中…", "Loading…"), "loading");
  try {
    await SCREENS[screen](a, params);
    ctx.status("", "done");
  } catch (e) {
    a.fail(e);
    ctx.status(a.describe(e), "error");
  }
}

// What every screen uses: ctx, the element to fill, words, errors.
function kit(ctx, body) {
  const t = ctx.t;
  const alert = h("p", { class: "admin-error", role: "alert", hidden: true });
  const note = h("p", { class: "admin-note", role: "status", "aria-live": "polite" });
  body.append(alert, note);
  const describe = (e) => `${t("出错", "Error")}: ${e.message || e}` + (e.code ? ` (${e.code})` : "");
  return {
    ctx, t, body,
    role: (r) => (ROLES[r] ? t(...ROLES[r]) : r),
    level: (l) => (LEVELS[l] ? t(...LEVELS[l]) : l),
    describe,
    fail(e) {
      alert.textContent = describe(e);
      alert.dataset.code = (e && e.code) || "";
      alert.hidden = false;
      note.textContent = "";
    },
    ok(text) {
      alert.hidden = true;
      note.textContent = text;
    },
    clear() {
      alert.hidden = true;
      note.textContent = "";
    },
    // Run an action: its errors shown, the status line kept truthful.
    async act(fn, doneText) {
      this.clear();
      ctx.status(t("处理中…", "Working…"), "loading");
      try {
        await fn();
        this.ok(doneText);
        ctx.status(doneText, "done");
        return true;
      } catch (e) {
        this.fail(e);
        ctx.status(describe(e), "error");
        return false;
      }
    },
  };
}

// A labelled field: the label wraps the control.
const field = (text, control, cls) => h("label", { class: "admin-field " + (cls || "") }, h("span", {}, text), control);

// A node picker over `nodes` (tree order), `keep` deciding which are offered.
function nodePicker(a, nodes, id, selected, keep) {
  const by = new Map(nodes.map((x) => [x.code, x]));
  const depth = (n) => {
    let d = 0;
    for (let p = n.parent; p && by.has(p) && d < 8; p = by.get(p).parent) d++;
    return d;
  };
  const offered = nodes.filter((n) => !keep || keep(n));
  return h("select", { id, required: true },
    offered.map((n) => h("option", { value: n.code, selected: n.code === selected },
      `${"\u3000".repeat(depth(n))}${n.name} · ${a.level(n.level)} (${n.code})`)));
}

// Nodes in tree order: each parent followed by its children.
function treeOrder(nodes) {
  const kids = new Map();
  const codes = new Set(nodes.map((n) => n.code));
  for (const n of nodes) {
    const p = codes.has(n.parent) ? n.parent : "";
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(n);
  }
  for (const list of kids.values()) list.sort((x, y) => (ORDER[x.level] ?? 9) - (ORDER[y.level] ?? 9) || x.code.localeCompare(y.code));
  const out = [];
  const walk = (p) => { for (const n of kids.get(p) || []) { out.push(n); walk(n.code); } };
  walk("");
  return out;
}

// A table that reads as cards at phone width: each cell carries its heading.
function table(id, heads, rows, caption) {
  return h("div", { class: "admin-table" },
    h("table", { id },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)));
}
const cell = (head, ...content) => h("td", { "data-label": head }, ...content);

// The whole org tree (the store's, fresh), in tree order.
async function loadNodes(a) {
  const body = await a.ctx.api("/v1/org/nodes");
  return treeOrder(body.nodes || []);
}

// A dialog-like panel above the list: one form at a time, focused, Escape
// or Cancel closes it.
function panel(a) {
  const box = h("section", { class: "admin-panel", hidden: true, "aria-live": "polite" });
  return {
    box,
    show(title, form) {
      box.replaceChildren(h("h3", { tabindex: "-1" }, title), form);
      box.hidden = false;
      const first = form.querySelector("input, select, button");
      (first || box.firstChild).focus();
    },
    close() {
      box.hidden = true;
      box.replaceChildren();
    },
  };
}

function formButtons(a, submitText, onCancel) {
  return h("div", { class: "admin-buttons" },
    h("button", { type: "submit", class: "primary" }, submitText),
    h("button", { type: "button", "on:click": onCancel }, a.t("取消", "Cancel")));
}

function onEscape(form, close) {
  form.addEventListener("keydown", (ev) => { if (ev.key === "Escape") close(); });
}

// ---------------------------------------------------------------- users

async function users(a) {
  const t = a.t;
  const [list, nodes] = await Promise.all([a.ctx.api("/v1/users"), loadNodes(a)]);
  let all = list.users || [];
  const names = new Map(nodes.map((n) => [n.code, n.name]));
  const nodeText = (code) => (names.has(code) ? `${names.get(code)} (${code})` : code);
  const forRole = (role) => (n) => (role === "department") === (n.level === "department");
  const p = panel(a);

  const filterText = h("input", { id: "user-filter", type: "search", placeholder: t("账号、姓名或节点", "Username, name or node") });
  const filterRole = h("select", { id: "user-filter-role" },
    h("option", { value: "" }, t("全部角色", "All roles")),
    Object.keys(ROLES).map((r) => h("option", { value: r }, a.role(r))));
  const filterState = h("select", { id: "user-filter-state" },
    h("option", { value: "" }, t("全部状态", "Any state")),
    h("option", { value: "enabled" }, t("启用", "Enabled")),
    h("option", { value: "disabled" }, t("停用", "Disabled")));
  const count = h("p", { class: "admin-count", id: "user-count" });
  const holder = h("div");

  const createButton = h("button", { type: "button", id: "user-new", class: "primary", "on:click": () => createForm() }, t("新建用户", "New user"));

  function draw() {
    const q = filterText.value.trim().toLowerCase();
    const shown = all.filter((u) =>
      (!q || [u.username, u.full_name, u.node, names.get(u.node) || ""].some((s) => s.toLowerCase().includes(q)))
      && (!filterRole.value || u.role === filterRole.value)
      && (!filterState.value || (filterState.value === "disabled") === u.disabled));
    count.textContent = t(`共 ${shown.length} 人（全部 ${all.length}）`, `${shown.length} of ${all.length} users`);
    const heads = [t("账号", "Username"), t("姓名", "Name"), t("角色", "Role"), t("所属节点", "Node"), t("状态", "State"), t("操作", "Actions")];
    holder.replaceChildren(table("admin-users", heads, shown.map((u) => h("tr", { dataset: { username: u.username, id: String(u.id) }, class: u.disabled ? "is-disabled" : "" },
      cell(heads[0], u.username),
      cell(heads[1], u.full_name),
      cell(heads[2], a.role(u.role)),
      cell(heads[3], nodeText(u.node)),
      cell(heads[4], u.disabled ? t("已停用", "Disabled") : t("启用", "Enabled")),
      cell(heads[5], h("div", { class: "admin-actions" },
        h("button", { type: "button", dataset: { action: u.disabled ? "enable" : "disable" }, "on:click": () => setDisabled(u, !u.disabled) },
          u.disabled ? t("启用", "Enable") : t("停用", "Disable")),
        h("button", { type: "button", dataset: { action: "password" }, "on:click": () => passwordForm(u) }, t("重置密码", "Reset password")),
        h("button", { type: "button", dataset: { action: "move" }, "on:click": () => moveForm(u) }, t("调动", "Move"))))))));
  }

  function replace(user) {
    all = all.map((u) => (u.id === user.id ? user : u));
    if (!all.some((u) => u.id === user.id)) all.push(user);
    draw();
  }

  async function setDisabled(u, disabled) {
    await a.act(async () => {
      replace(await a.ctx.api(`/v1/users/${u.id}`, { method: "PATCH", body: { disabled } }));
    }, disabled ? t(`已停用 ${u.username}`, `${u.username} disabled`) : t(`已启用 ${u.username}`, `${u.username} enabled`));
  }

  function createForm() {
    const role = h("select", { id: "new-role", required: true },
      Object.keys(ROLES).map((r) => h("option", { value: r, selected: r === "grid_worker" }, a.role(r))));
    const nodeBox = h("span");
    const pick = () => nodeBox.replaceChildren(nodePicker(a, nodes, "new-node", a.ctx.user.node, forRole(role.value)));
    role.addEventListener("change", pick);
    pick();
    const form = h("form", { id: "user-create", class: "admin-form" },
      field(t("账号", "Username"), h("input", { id: "new-username", required: true, pattern: "[A-Za-z0-9._\\-]{1,64}", autocomplete: "off" })),
      field(t("姓名", "Full name"), h("input", { id: "new-full-name", required: true })),
      field(t("初始密码（至少8位）", "Password (8 or more)"), h("input", { id: "new-password", type: "password", required: true, minlength: "8", autocomplete: "new-password" })),
      field(t("角色", "Role"), role),
      field(t("所属节点", "Node"), nodeBox),
      formButtons(a, t("创建", "Create"), () => p.close()));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        username: form.querySelector("#new-username").value.trim(),
        full_name: form.querySelector("#new-full-name").value.trim(),
        password: form.querySelector("#new-password").value,
        role: role.value,
        node: form.querySelector("#new-node").value,
      };
      if (await a.act(async () => replace(await a.ctx.api("/v1/users", { method: "POST", body })), t(`已创建 ${body.username}`, `${body.username} created`))) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t("新建用户", "New user"), form);
  }

  function passwordForm(u) {
    const form = h("form", { id: "user-password", class: "admin-form" },
      field(t(`${u.username} 的新密码（至少8位）`, `New password for ${u.username} (8 or more)`),
        h("input", { id: "reset-password", type: "password", required: true, minlength: "8", autocomplete: "new-password" })),
      formButtons(a, t("重置", "Reset"), () => p.close()));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const password = form.querySelector("#reset-password").value;
      if (await a.act(async () => replace(await a.ctx.api(`/v1/users/${u.id}`, { method: "PATCH", body: { password } })),
        t(`已重置 ${u.username} 的密码`, `Password of ${u.username} reset`))) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t("重置密码", "Reset password"), form);
  }

  function moveForm(u) {
    const role = h("select", { id: "move-role" }, Object.keys(ROLES).map((r) => h("option", { value: r, selected: r === u.role }, a.role(r))));
    const nodeBox = h("span");
    const pick = () => nodeBox.replaceChildren(nodePicker(a, nodes, "move-node", u.node, forRole(role.value)));
    role.addEventListener("change", pick);
    pick();
    const form = h("form", { id: "user-move", class: "admin-form" },
      h("p", { class: "admin-hint" }, t("部门人员只能调入部门；其他角色只能调入区、园区、社区或网格。",
        "Department users belong to departments; other roles to the district, parks, communities or grids.")),
      field(t("角色", "Role"), role),
      field(t("调往节点或部门", "Move to node or department"), nodeBox),
      formButtons(a, t("调动", "Move"), () => p.close()));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { node: form.querySelector("#move-node").value };
      if (role.value !== u.role) body.role = role.value;
      if (await a.act(async () => replace(await a.ctx.api(`/v1/users/${u.id}`, { method: "PATCH", body })),
        t(`已将 ${u.username} 调往 ${nodeText(body.node)}`, `${u.username} moved to ${nodeText(body.node)}`))) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t(`调动 ${u.full_name}（${u.username}）`, `Move ${u.full_name} (${u.username})`), form);
  }

  for (const c of [filterText, filterRole, filterState]) c.addEventListener("input", draw);
  a.body.append(
    h("h2", {}, t("用户", "Users")),
    h("div", { class: "admin-toolbar" },
      field(t("筛选", "Filter"), filterText), field(t("角色", "Role"), filterRole), field(t("状态", "State"), filterState), createButton),
    p.box, count, holder);
  draw();
}

// ---------------------------------------------------------------- devices

async function devices(a) {
  const t = a.t;
  const admin = a.ctx.user.role === "admin";
  const list = await a.ctx.api("/v1/devices");
  let all = list.devices || [];
  const p = panel(a);
  const filterText = h("input", { id: "device-filter", type: "search", placeholder: t("设备、账号或姓名", "Device, username or name") });
  const showRevoked = h("input", { id: "device-revoked", type: "checkbox" });
  const count = h("p", { class: "admin-count", id: "device-count" });
  const holder = h("div");
  const STALE = 3 * 86400e3;

  function draw() {
    const q = filterText.value.trim().toLowerCase();
    const shown = all.filter((d) => (showRevoked.checked || !d.revoked_at)
      && (!q || [d.name, d.username, d.full_name, d.node].some((s) => (s || "").toLowerCase().includes(q))));
    count.textContent = t(`共 ${shown.length} 台（全部 ${all.length}）`, `${shown.length} of ${all.length} devices`);
    const heads = [t("设备", "Device"), t("用户", "User"), t("所属节点", "Node"), t("登记时间", "Registered"), t("最近同步", "Last sync"), t("状态", "State"), t("操作", "Actions")];
    holder.replaceChildren(table("admin-devices", heads, shown.map((d) => {
      const stale = !d.revoked_at && (!d.last_sync_at || Date.now() - d.last_sync_at > STALE);
      return h("tr", { dataset: { device: d.id }, class: d.revoked_at ? "is-disabled" : "" },
        cell(heads[0], d.name, h("small", { class: "admin-muted" }, ` #${d.actor}`)),
        cell(heads[1], `${d.full_name} (${d.username})`),
        cell(heads[2], d.node),
        cell(heads[3], when(d.created_at)),
        cell(heads[4], h("span", { class: stale ? "admin-stale" : "", dataset: { key: "last_sync" } }, d.last_sync_at ? when(d.last_sync_at) : t("从未同步", "Never"))),
        cell(heads[5], h("span", { dataset: { key: "state" } }, d.revoked_at ? t(`已吊销 ${when(d.revoked_at)}`, `Revoked ${when(d.revoked_at)}`) : t("正常", "Active"))),
        cell(heads[6], admin && !d.revoked_at
          ? h("button", { type: "button", class: "danger", dataset: { action: "revoke" }, "on:click": () => confirmRevoke(d) }, t("吊销", "Revoke"))
          : ""));
    })));
  }

  function confirmRevoke(d) {
    const form = h("form", { id: "revoke-form", class: "admin-form" },
      h("p", {}, t(`吊销后该设备立即无法同步，已同步的数据保留；未同步的修改可由本人登录后移交（进入隔离区待审核）。此操作不可撤销。`,
        "The device can no longer sync from its next request; what it synced stays, and its unsent changes can be handed over by its user (to the quarantine). This cannot be undone.")),
      h("div", { class: "admin-buttons" },
        h("button", { type: "submit", class: "danger", id: "revoke-confirm" }, t("确认吊销", "Revoke")),
        h("button", { type: "button", "on:click": () => p.close() }, t("取消", "Cancel"))));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const ok = await a.act(async () => {
        const out = await a.ctx.api(`/v1/devices/${encodeURIComponent(d.id)}/revoke`, { method: "POST" });
        all = all.map((x) => (x.id === d.id ? { ...x, ...out.device } : x));
        draw();
      }, t(`已吊销 ${d.name}（${d.username}）`, `${d.name} (${d.username}) revoked`));
      if (ok) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t(`吊销 ${d.username} 的设备「${d.name}」？`, `Revoke ${d.username}'s device “${d.name}”?`), form);
  }

  filterText.addEventListener("input", draw);
  showRevoked.addEventListener("change", draw);
  a.body.append(
    h("h2", {}, t("设备", "Devices")),
    admin ? null : h("p", { class: "admin-hint" }, t("您可查看辖区内用户的设备；吊销设备请联系管理员。", "You see the devices of the users in your area; ask an admin to revoke one.")),
    h("div", { class: "admin-toolbar" },
      field(t("筛选", "Filter"), filterText),
      h("label", { class: "admin-check" }, showRevoked, h("span", {}, t("显示已吊销", "Show revoked")))),
    p.box, count, holder);
  draw();
}

// ---------------------------------------------------------------- org tree

async function org(a) {
  const t = a.t;
  let nodes = await loadNodes(a);
  const p = panel(a);
  const holder = h("div", { id: "org-tree-holder" });

  function draw() {
    const kids = new Map();
    for (const n of nodes) {
      if (!kids.has(n.parent || "")) kids.set(n.parent || "", []);
      kids.get(n.parent || "").push(n);
    }
    const item = (n) => {
      const children = kids.get(n.code) || [];
      const label = h("span", { class: "org-label" },
        h("span", { class: "org-level org-" + n.level }, a.level(n.level)), " ", h("strong", {}, n.name), " ",
        h("code", {}, n.code), children.length ? h("small", { class: "admin-muted" }, ` · ${children.length}`) : null);
      const actions = h("span", { class: "admin-actions" },
        h("button", { type: "button", dataset: { action: "rename" }, "on:click": () => renameForm(n) }, t("改名", "Rename")),
        CHILDREN[n.level] ? h("button", { type: "button", dataset: { action: "add" }, "on:click": () => addForm(n) }, t("添加下级", "Add below")) : null);
      if (!children.length) return h("li", { dataset: { code: n.code } }, h("div", { class: "org-row" }, label, actions));
      return h("li", { dataset: { code: n.code } },
        h("details", { open: n.level === "district" || n.level === "park" },
          h("summary", {}, label),
          h("div", { class: "org-row" }, actions),
          h("ul", {}, children.map(item))));
    };
    const roots = nodes.filter((n) => !nodes.some((m) => m.code === n.parent));
    const departments = nodes.filter((n) => n.level === "department");
    holder.replaceChildren(
      h("ul", { id: "org-tree", class: "org-tree" }, roots.map(item)),
      h("h3", {}, t(`部门（${departments.length}）`, `Departments (${departments.length})`)),
      departments.length ? h("ul", { id: "org-departments", class: "org-flat" }, departments.map((d) => h("li", { dataset: { code: d.code } },
        h("div", { class: "org-row" }, h("span", { class: "org-label" }, h("strong", {}, d.name), " ", h("code", {}, d.code)),
          h("span", { class: "admin-actions" }, h("button", { type: "button", dataset: { action: "rename" }, "on:click": () => renameForm(d) }, t("改名", "Rename")))))))
        : h("p", { class: "admin-muted" }, t("尚无部门：在区节点下“添加下级”，层级选“部门”。", "No departments yet: “Add below” the district, level “Department”.")));
  }

  function addForm(parent) {
    const levels = CHILDREN[parent.level];
    const level = h("select", { id: "org-level" }, levels.map((l) => h("option", { value: l }, a.level(l))));
    const form = h("form", { id: "org-form", class: "admin-form" },
      field(t("层级", "Level"), level),
      field(t("编码", "Code"), h("input", { id: "org-code", required: true, pattern: "[A-Za-z0-9._\\-]{1,64}", autocomplete: "off" })),
      field(t("名称", "Name"), h("input", { id: "org-name", required: true })),
      formButtons(a, t("添加", "Add"), () => p.close()));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { code: form.querySelector("#org-code").value.trim(), name: form.querySelector("#org-name").value.trim(), level: level.value, parent: parent.code };
      const ok = await a.act(async () => {
        await a.ctx.api("/v1/org/nodes", { method: "POST", body });
        nodes = await loadNodes(a);
        draw();
      }, t(`已添加 ${body.name}（${body.code}）`, `${body.name} (${body.code}) added`));
      if (ok) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t(`在 ${parent.name} 下添加`, `Add under ${parent.name}`), form);
  }

  function renameForm(n) {
    const form = h("form", { id: "org-form", class: "admin-form" },
      field(t("新名称", "New name"), h("input", { id: "org-name", required: true, value: n.name })),
      formButtons(a, t("改名", "Rename"), () => p.close()));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = form.querySelector("#org-name").value.trim();
      const ok = await a.act(async () => {
        await a.ctx.api(`/v1/org/nodes/${encodeURIComponent(n.code)}`, { method: "PATCH", body: { name } });
        nodes = await loadNodes(a);
        draw();
      }, t(`已改名为 ${name}`, `Renamed to ${name}`));
      if (ok) p.close();
    });
    onEscape(form, () => p.close());
    p.show(t(`给 ${n.name}（${n.code}）改名`, `Rename ${n.name} (${n.code})`), form);
  }

  a.body.append(h("h2", {}, t("组织架构与部门", "Org tree and departments")), p.box, holder);
  draw();
}

// ---------------------------------------------------------------- import

async function importer(a) {
  const t = a.t;
  const ctx = a.ctx;
  const nodes = treeOrder(ctx.nodes || []);
  const collectionName = (c) => (ctx.collection ? ctx.collection(c) : c);
  const file = h("input", { id: "import-file", type: "file", required: true, accept: ".xlsx,.xls,.xlsm,.ods,.csv,.txt" });
  const node = nodePicker(a, nodes, "import-node", ctx.user.node, (n) => n.level !== "department");
  const collection = h("select", { id: "import-collection" },
    h("option", { value: "" }, t("按表头/工作表识别", "From the headers or sheets")),
    IMPORTABLE.map((c) => h("option", { value: c }, collectionName(c))));
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  const confirm = h("button", { type: "button", id: "import-confirm", class: "primary", disabled: true }, t("确认导入", "Import these rows"));
  let checked = null; // what the last dry run checked: the same file, node and register

  const send = async (dry) => {
    const f = file.files[0];
    const q = new URLSearchParams({ node: node.value, name: f.name });
    if (collection.value) q.set("collection", collection.value);
    if (dry) q.set("dry_run", "true");
    return ctx.api("/v1/imports?" + q, { method: "POST", body: f, headers: { "Content-Type": f.type || "application/octet-stream" } });
  };

  function show(r) {
    const heads = [t("台账", "Register"), t("新增", "Created"), t("更新", "Updated"), t("未变", "Unchanged"), t("拒收", "Refused")];
    const counts = table("import-counts", heads, r.counts.map((c) => h("tr", { dataset: { collection: c.collection } },
      cell(heads[0], c.collection === "total" ? t("合计", "Total") : collectionName(c.collection)),
      cell(heads[1], String(c.created)), cell(heads[2], String(c.updated)),
      cell(heads[3], String(c.unchanged)), cell(heads[4], String(c.refused)))));
    const rheads = [t("工作表", "Sheet"), t("行", "Row"), t("列", "Column"), t("原因", "Reason")];
    const refusals = r.refusals.length
      ? table("import-refusals", rheads, r.refusals.map((x) => h("tr", { dataset: { row: String(x.row) } },
        cell(rheads[0], x.sheet), cell(rheads[1], String(x.row)), cell(rheads[2], x.column), cell(rheads[3], x.reason))),
      t(`拒收的行（${r.refusals.length + r.more_refusals}）`, `Refused rows (${r.refusals.length + r.more_refusals})`))
      : h("p", {}, t("没有拒收的行。", "No row refused."));
    report.dataset.run = r.dry_run ? "dry" : "done";
    report.replaceChildren(
      h("h3", {}, r.dry_run ? t(`检查结果：${r.file}（${r.rows} 行，未写入）`, `Check of ${r.file} (${r.rows} rows, nothing written)`)
        : t(`已导入：${r.file}（${r.rows} 行）`, `Imported ${r.file} (${r.rows} rows)`)),
      r.encoding ? h("p", { class: "admin-muted" }, t(`编码 ${r.encoding}`, `Encoding ${r.encoding}`)) : null,
      r.skipped.map((s) => h("p", { class: "admin-muted" }, t("跳过：", "Skipped: ") + s)),
      counts, refusals,
      r.more_refusals ? h("p", { class: "admin-muted" }, t(`另有 ${r.more_refusals} 条未列出`, `${r.more_refusals} more not listed`)) : null);
  }

  const form = h("form", { id: "import-form", class: "admin-form" },
    field(t("台账文件（.xlsx 或 .csv）", "Register file (.xlsx or .csv)"), file),
    field(t("导入到节点", "Import into node"), node),
    field(t("台账类别（CSV 用）", "Register (for a CSV)"), collection),
    h("div", { class: "admin-buttons" }, h("button", { type: "submit", id: "import-check", class: "primary" }, t("检查（不写入）", "Check (writes nothing)")), confirm));
  const reset = () => { checked = null; confirm.disabled = true; };
  for (const c of [file, node, collection]) c.addEventListener("change", reset);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    reset();
    report.replaceChildren();
    delete report.dataset.run;
    await a.act(async () => {
      const r = await send(true);
      show(r);
      checked = file.files[0];
      confirm.disabled = false;
    }, t("检查完成：核对后点“确认导入”", "Checked: read the report, then import"));
  });
  confirm.addEventListener("click", async () => {
    if (!checked || checked !== file.files[0]) return reset();
    confirm.disabled = true;
    const ok = await a.act(async () => show(await send(false)), t("导入完成", "Imported"));
    if (!ok) confirm.disabled = false;
  });

  const templates = ["registers.xlsx", ...IMPORTABLE.flatMap((c) => [`${c}.xlsx`, `${c}.csv`])];
  a.body.append(
    h("h2", {}, t("导入台账", "Import registers")),
    h("p", { class: "admin-hint" }, t("先检查：系统逐行核对并列出问题，不写入任何数据；确认无误后再导入。重复导入同一文件不会产生重复记录。",
      "Check first: every row is checked and its problems listed, nothing written; then import. Importing a file again creates nothing twice.")),
    h("nav", { class: "admin-templates", "aria-label": t("模板下载", "Templates") },
      h("span", {}, t("模板下载：", "Templates: ")),
      templates.map((name) => h("a", { href: `/v1/import/templates/${name}`, download: name }, name))),
    form, report);
}

// ---------------------------------------------------------------- audit

async function audit(a, params) {
  const t = a.t;
  const who = h("input", { id: "audit-who", list: "audit-users", value: params.who || "", autocomplete: "off" });
  const action = h("input", { id: "audit-action", list: "audit-actions", value: params.action || "", autocomplete: "off" });
  const from = h("input", { id: "audit-from", type: "date", value: params.from || "" });
  const to = h("input", { id: "audit-to", type: "date", value: params.to || "", max: today() });
  const limit = h("select", { id: "audit-limit" }, ["50", "200", "1000", "5000"].map((n) => h("option", { value: n, selected: n === (params.limit || "200") }, n)));
  const userList = h("datalist", { id: "audit-users" });
  const actionList = h("datalist", { id: "audit-actions" }, ACTIONS.map((x) => h("option", { value: x })));
  const count = h("p", { class: "admin-count", id: "audit-count" });
  const holder = h("div");
  a.ctx.api("/v1/users").then((r) => userList.replaceChildren(...(r.users || []).map((u) => h("option", { value: u.username }, u.full_name))), () => {});

  async function load() {
    const q = new URLSearchParams();
    for (const [k, c] of [["who", who], ["action", action], ["from", from], ["to", to]]) if (c.value.trim()) q.set(k, c.value.trim());
    q.set("limit", limit.value);
    history.replaceState(null, "", "#/admin/audit?" + q);
    const r = await a.ctx.api("/v1/audit?" + q);
    const entries = r.entries || [];
    count.textContent = t(`${entries.length} 条`, `${entries.length} entries`);
    const heads = [t("时间", "Time"), t("用户", "Who"), t("操作", "Action"), t("对象", "Target"), t("详情", "Detail"), t("地址", "Address")];
    holder.replaceChildren(table("admin-audit", heads, entries.map((e) => h("tr", { dataset: { action: e.action, who: e.username } },
      cell(heads[0], when(e.at)), cell(heads[1], e.username), cell(heads[2], e.action), cell(heads[3], e.target),
      cell(heads[4], h("span", { class: "admin-detail" }, e.detail)), cell(heads[5], e.address || "")))));
  }

  const form = h("form", { id: "audit-form", class: "admin-form admin-toolbar" },
    field(t("用户", "Who"), who), field(t("操作", "Action"), action),
    field(t("自", "From"), from), field(t("至", "To"), to), field(t("条数", "Limit"), limit),
    h("div", { class: "admin-buttons" }, h("button", { type: "submit", id: "audit-search", class: "primary" }, t("查询", "Search")),
      h("button", { type: "button", "on:click": () => { for (const c of [who, action, from, to]) c.value = ""; form.requestSubmit(); } }, t("清除", "Clear"))),
    userList, actionList);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    a.act(load, t("已筛选", "Filtered"));
  });
  a.body.append(h("h2", {}, t("审计日志", "Audit log")), form, count, holder);
  await load();
}

const SCREENS = { users, devices, org, import: importer, audit };
