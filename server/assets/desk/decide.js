// The desk's decisions (issue 17, item 3): conflicts side by side with their
// writers (picking a value writes it, as a change of the person's desk actor
// that covers every concurrent value); quarantined changes with their reason,
// accepted or rejected; duplicate residents merged or dismissed.

import { chinaTime, titleOf } from "/desk/cases.js";

export async function render(view, ctx, params) {
  if (params.page === "quarantine") return quarantine(view, ctx, params);
  if (params.page === "duplicates") return duplicates(view, ctx, params);
  return conflicts(view, ctx, params);
}

const say = (ctx, el, e) => {
  el.textContent = (e.code ? e.code + "：" : "") + (e.message || e);
  el.dataset.state = "error";
};

function whoWrote(ctx, authors, actor) {
  const a = (authors || {})[actor];
  if (!a) return ctx.t("系统", "server");
  return `${a.full_name || a.username}（${a.device === "desk" ? ctx.t("网页端", "desk") : a.device}）`;
}

function shown(ctx, collection, field, v) {
  if (v === null || v === undefined) return ctx.t("（空）", "(empty)");
  if (typeof v === "object") return v.caption || (v.lat !== undefined ? `${v.lat}, ${v.lng}` : JSON.stringify(v));
  return ctx.value(collection, field, v);
}

// ---- conflicts ---------------------------------------------------------------

async function conflicts(view, ctx, params) {
  const { h, t } = ctx;
  view.append(h("h2", {}, t("待裁决冲突", "Conflicts")),
    h("p", { class: "muted" }, t("两台设备离线时改了同一项。选定一个值即裁决：它作为您的修改写入，各设备下次同步后一致。",
      "Two devices changed the same field offline. Picking a value decides it: it is written as your change, and every device agrees after its next sync.")));
  // Which records: the one asked for, else those of the inbox.
  let wanted = [];
  if (params.record) wanted = [{ record: params.record, grid: params.grid }];
  else {
    const inbox = await ctx.api("/v1/inbox");
    wanted = inbox.items.filter((i) => i.kind === "conflict").map((i) => ({ record: i.record, grid: i.grid }));
  }
  const list = h("div", { id: "conflicts" });
  view.append(list);
  if (!wanted.length) list.append(h("p", { class: "muted", id: "no-conflicts" }, t("没有待裁决的冲突。", "No conflicts to decide.")));
  const details = await Promise.all(wanted.map((w) => {
    const q = new URLSearchParams({ history: "1" });
    if (w.grid) q.set("grid", w.grid);
    return ctx.api(`/v1/records/${w.record}?${q}`).catch(() => null);
  }));
  for (const d of details) if (d) list.append(conflictCard(ctx, d));
  ctx.status(t(`${wanted.length} 条记录有冲突`, `${wanted.length} records in conflict`), "done");
}

function conflictCard(ctx, detail) {
  const { h, t } = ctx;
  const rec = detail.record;
  const said = h("p", { class: "said", role: "status" });
  const fields = Object.entries(rec.fields).filter(([, v]) => v && typeof v === "object" && Array.isArray(v.conflict) && v.conflict.length);
  const card = h("article", { class: "card conflict", dataset: { id: rec.id } },
    h("h3", {}, h("a", { href: `#/case/${rec.id}?grid=${encodeURIComponent(rec.grid)}` }, ctx.collection(rec.collection), " · ", titleOf(ctx, rec)),
      " ", h("span", { class: "muted" }, ctx.nodeName(rec.grid))));
  if (!fields.length) card.append(h("p", { class: "muted" }, t("已裁决。", "Decided.")));
  for (const [name, v] of fields) {
    card.append(h("div", { class: "side-by-side", dataset: { field: name } },
      h("h4", {}, ctx.field(rec.collection, name)),
      h("div", { class: "choices" }, v.conflict.map((w) => h("div", { class: "choice", dataset: { actor: String(w.actor) } },
        h("p", { class: "value" }, shown(ctx, rec.collection, name, w.value)),
        h("p", { class: "muted author" }, whoWrote(ctx, detail.authors, w.actor)),
        h("button", { type: "button", "on:click": async () => {
          said.textContent = t("提交中…", "Sending…");
          try {
            const r = await ctx.api(`/v1/records/${rec.id}/edits?grid=${encodeURIComponent(rec.grid)}`, { method: "POST", body: { set: { [name]: w.value } } });
            if (r.result.status !== "applied") throw new Error(r.result.message || r.result.status);
            said.textContent = t("已裁决", "Decided");
            said.dataset.state = "done";
            card.dataset.state = "decided";
            card.replaceWith(conflictCard(ctx, { ...detail, record: r.record }));
          } catch (e) { say(ctx, said, e); }
        } }, t("采用此值", "Pick this")))))));
  }
  card.append(said);
  return card;
}

// ---- quarantine ----------------------------------------------------------------

async function quarantine(view, ctx, params) {
  const { h, t } = ctx;
  const q = new URLSearchParams({ limit: "1000" });
  if (params.grid) q.set("grid", params.grid);
  const r = await ctx.api(`/v1/quarantine?${q}`);
  const open = r.changes.filter((c) => !c.resolution);
  view.append(h("h2", {}, t("退回的修改", "Quarantined changes")),
    h("p", { class: "muted" }, t("服务器拒收的修改及原因。接受：重新检查后按原作者写入；驳回：不再处理。",
      "Changes the server refused, with the reason. Accept: checked again and merged as its author made it. Reject: set aside.")));
  if (!open.length) {
    view.append(h("p", { class: "muted", id: "no-quarantine" }, t("没有待处理的修改。", "Nothing waiting.")));
    ctx.status(t("没有待处理的修改", "Nothing waiting"), "done");
    return;
  }
  const rows = open.map((c) => {
    let change = {};
    try { change = JSON.parse(c.body); } catch { /* shown raw */ }
    const said = h("td", { class: "said", role: "status" });
    const decide = (how) => async () => {
      said.textContent = t("提交中…", "Sending…");
      try {
        await ctx.api(`/v1/quarantine/${c.id}/${how}`, { method: "POST" });
        said.textContent = how === "accept" ? t("已接受", "Accepted") : t("已驳回", "Rejected");
        said.dataset.state = "done";
        tr.dataset.state = how;
        tr.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      } catch (e) { say(ctx, said, e); }
    };
    const ops = (change.ops || []).map((op) => {
      const [kind, o] = Object.entries(op)[0] || [];
      return o && o.field ? `${ctx.field(change.collection, o.field)}${kind === "set" ? "：" + shown(ctx, change.collection, o.field, o.value) : ""}` : kind;
    }).join("；");
    const tr = h("tr", { dataset: { id: String(c.id) } },
      h("td", {}, chinaTime(new Date(c.received_at).toISOString())),
      h("td", {}, ctx.nodeName(c.grid)),
      h("td", {}, change.collection ? ctx.collection(change.collection) : ""),
      h("td", { class: "change" }, ops || c.body.slice(0, 120)),
      h("td", { "data-key": "code" }, h("code", {}, c.code), " ", c.message),
      h("td", {}, h("button", { type: "button", class: "accept", "on:click": decide("accept") }, t("接受", "Accept")), " ",
        h("button", { type: "button", class: "reject", "on:click": decide("reject") }, t("驳回", "Reject"))),
      said);
    return tr;
  });
  view.append(h("table", { id: "quarantine" },
    h("thead", {}, h("tr", {}, [t("收到", "Received"), t("网格", "Grid"), t("类别", "Kind"), t("修改", "Change"), t("原因", "Reason"), t("决定", "Decide"), ""]
      .map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows)));
  ctx.status(t(`${open.length} 条待处理`, `${open.length} waiting`), "done");
}

// ---- duplicates ----------------------------------------------------------------

async function duplicates(view, ctx, params) {
  const { h, t } = ctx;
  const node = params.node || ctx.user.node;
  const r = await ctx.api(`/v1/nodes/${encodeURIComponent(node)}/duplicates`);
  view.append(h("h2", {}, t("重复登记的人员", "Duplicate residents"), " · ", ctx.nodeName(node)),
    h("p", { class: "muted" }, t("身份证号相同的人员。合并：保留一条，其余的值并入后删除；忽略：确非重复。",
      "Residents sharing an ID number. Merge: keep one, the others' values go into it and they are deleted. Dismiss: no mistake.")));
  if (!r.duplicates.length) {
    view.append(h("p", { class: "muted", id: "no-duplicates" }, t("没有重复的人员。", "No duplicates.")));
    ctx.status(t("没有重复", "No duplicates"), "done");
    return;
  }
  for (const d of r.duplicates) {
    const said = h("p", { class: "said", role: "status" });
    const group = `dup-${d.id_number}`;
    const card = h("article", { class: "card duplicate", dataset: { id: d.id_number } },
      h("h3", {}, t("身份证号 ", "ID number "), d.id_number),
      h("fieldset", {}, h("legend", {}, t("保留哪一条", "Which to keep")),
        d.records.map((rec, i) => h("label", { class: "keep" },
          h("input", { type: "radio", name: group, value: rec.id, checked: i === 0 }),
          " ", titleOf(ctx, rec), " · ", ctx.nodeName(rec.grid), " · ", chinaTime(rec.updated_at)))));
    const act = (how) => async () => {
      said.textContent = t("提交中…", "Sending…");
      try {
        const body = how === "merge" ? { keep: card.querySelector(`input[name="${group}"]:checked`).value } : undefined;
        await ctx.api(`/v1/duplicates/${encodeURIComponent(d.id_number)}/${how}`, { method: "POST", body });
        said.textContent = how === "merge" ? t("已合并", "Merged") : t("已忽略", "Dismissed");
        said.dataset.state = "done";
        card.dataset.state = how;
        card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      } catch (e) { say(ctx, said, e); }
    };
    card.append(h("div", { class: "buttons" },
      h("button", { type: "button", class: "merge", "on:click": act("merge") }, t("合并", "Merge")),
      h("button", { type: "button", class: "dismiss", "on:click": act("dismiss") }, t("不是重复", "Dismiss"))), said);
    view.append(card);
  }
  ctx.status(t(`${r.duplicates.length} 组`, `${r.duplicates.length} groups`), "done");
}
