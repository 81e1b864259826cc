// Building elements, for the field app and the desk alike.

/** An element: attrs `class`, `on:event` handlers, `dataset`, others as
 *  attributes; children strings or nodes, arrays flattened, null skipped. */
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on:")) e.addEventListener(k.slice(3), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else e.append(c instanceof Node ? c : String(c));
  };
  children.forEach(add);
  return e;
}
