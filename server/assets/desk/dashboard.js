// The desk's dashboard, second version (issue 17, item 5): the reports of a
// node's subtree, loaded on arrival; drill-down district → park → community
// → grid → case by clicking; charts drawn by the server as SVG; the trend per
// day or week; the map (inline SVG from /v1/reports/map); search; the daily
// 研判 brief, printable on A4. Words come from the schema (ctx.value, …) and
// the org tree (names), never codes. docs/REPORTS.md, "The desk's dashboard".

const FIGURES = {
  records: ['在册', 'Records'],
  open: ['在办', 'Open'],
  new: ['新增', 'New'],
  closed: ['办结', 'Closed'],
  overdue: ['超期', 'Overdue'],
  escalated: ['上报升级', 'Escalated'],
  conflicted: ['待裁决冲突', 'Conflicted'],
  newly_overdue: ['新超期', 'Newly overdue'],
  due_soon: ['24小时内到期', 'Due within 24 h'],
  reported: ['上报', 'Reported'],
  rounds: ['巡逻轮次', 'Rounds'],
  missed: ['漏巡', 'Missed'],
  planned: ['计划点位', 'Planned checkpoints'],
  visited: ['已巡点位', 'Visited'],
  missed_checkpoints: ['漏巡点位', 'Missed checkpoints'],
  unplanned: ['计划外点位', 'Unplanned'],
  checkins: ['打卡', 'Check-ins'],
  coverage: ['覆盖率', 'Coverage'],
  score: ['得分', 'Score'],
  changes: ['提交', 'Changes'],
  visits: ['走访', 'Visits'],
  inspections: ['巡查', 'Inspections'],
  check_ins: ['巡逻打卡', 'Check-ins'],
  case_actions: ['处置记录', 'Case actions'],
  sessions: ['调解次数', 'Sessions'],
  agreed: ['调解成功', 'Agreed'],
  days_late: ['超期天数', 'Days late'],
};

const REPORTS = {
  summary: ['综合统计', 'Summary'],
  patrol: ['巡逻覆盖', 'Patrol coverage'],
  overdue: ['超期清单', 'Overdue lists'],
  ranking: ['排行榜', 'Ranking'],
  brief: ['每日简报', 'Daily brief'],
};

const PERIODS = {
  day: ['日', 'Day'],
  week: ['周', 'Week'],
  month: ['月', 'Month'],
  quarter: ['季', 'Quarter'],
  range: ['自定义', 'From–to'],
};

const LISTS = ['cases', 'petitions', 'mediations', 'key_persons', 'places', 'special_groups', 'assessments'];

let seq = 0;

function today() {
  return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
}

function qs(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, v);
  }
  return p.toString();
}

function word(ctx, key) {
  const f = FIGURES[key];
  return f ? ctx.t(f[0], f[1]) : key;
}

function num(v) {
  return typeof v === 'number' ? v.toLocaleString('zh-CN') : v ?? '';
}

function pct(v) {
  return typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '';
}

function chinaTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return new Date(d.getTime() + 8 * 3600e3).toISOString().slice(0, 16).replace('T', ' ');
}

/// The state a dashboard page is for, from its route parameters.
function stateOf(ctx, params) {
  const period = PERIODS[params.period] ? params.period : (params.from && params.to ? 'range' : 'month');
  return {
    node: params.node || ctx.user.node,
    report: REPORTS[params.report] ? params.report : 'summary',
    period,
    date: params.date || '',
    from: params.from || '',
    to: params.to || '',
    by: params.by === 'week' ? 'week' : 'day',
    metric: FIGURES[params.metric] && ['records', 'open', 'new', 'closed', 'overdue', 'escalated', 'conflicted'].includes(params.metric) ? params.metric : 'open',
  };
}

/// The period's query parameters, as the reports take them.
function periodQuery(s) {
  if (s.period === 'range') return { from: s.from || today(), to: s.to || today() };
  return { period: s.period, date: s.date };
}

function route(s, changes) {
  const n = { ...s, ...changes };
  const q = { node: n.node, report: n.report, period: n.period, by: n.by, metric: n.metric };
  if (n.period === 'range') Object.assign(q, { from: n.from, to: n.to });
  else q.date = n.date;
  if (q.by === 'day') delete q.by;
  if (q.metric === 'open') delete q.metric;
  if (q.report === 'summary') delete q.report;
  if (q.period === 'month') delete q.period;
  return '#/dashboard?' + qs(q);
}

function nodeOf(ctx, code) {
  return ctx.nodes.find((n) => n.code === code);
}

function childrenOf(ctx, code) {
  return ctx.nodes.filter((n) => n.parent === code);
}

/// The path from the caller's node down to `code`.
function pathTo(ctx, code) {
  const out = [];
  let at = nodeOf(ctx, code);
  while (at) {
    out.unshift(at);
    if (at.code === ctx.user.node) break;
    at = nodeOf(ctx, at.parent);
  }
  return out;
}

function breadcrumb(ctx, code, link) {
  const h = ctx.h;
  const path = pathTo(ctx, code);
  return h('nav', { class: 'dash-crumbs', 'aria-label': ctx.t('层级', 'Levels') },
    h('ol', {}, path.map((n, i) => h('li', {},
      i === path.length - 1
        ? h('span', { 'aria-current': 'page' }, `${ctx.level(n.level)} ${n.name}`)
        : h('a', { href: link(n.code) }, `${ctx.level(n.level)} ${n.name}`)))));
}

/// A table; `rows` of objects, `cols` of [key, header, render?]. `open(row)`
/// makes a row a link (click or Enter).
function table(ctx, { caption, cols, rows, open, id, empty }) {
  const h = ctx.h;
  if (!rows.length) return h('p', { class: 'dash-empty' }, empty || ctx.t('无记录', 'Nothing to show'));
  const body = rows.map((r) => {
    const attrs = {};
    if (open) {
      attrs.class = 'dash-link-row';
      attrs.tabindex = '0';
      attrs['on:click'] = () => open(r);
      attrs['on:keydown'] = (e) => { if (e.key === 'Enter') open(r); };
    }
    attrs.dataset = { row: r.code || r.id || r.collection || r.day || r.first_day || '' };
    return h('tr', attrs, cols.map(([k, , f], i) => {
      const v = f ? f(r) : r[k];
      if (i === 0) return h('th', { scope: 'row', dataset: { key: k } }, v ?? '');
      const a = { dataset: { key: k } };
      if (typeof r[k] === 'number') a.class = 'num';
      return h('td', a, typeof v === 'number' ? num(v) : (v ?? ''));
    }));
  });
  return h('div', { class: 'dash-table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h('table', { class: 'dash-table', id },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, cols.map(([, head]) => h('th', { scope: 'col' }, head)))),
      h('tbody', {}, body)));
}

function card(ctx, key, value, alert) {
  return ctx.h('div', { class: 'dash-card' + (alert && value > 0 ? ' alert' : ''), dataset: { key } },
    ctx.h('span', { class: 'dash-card-label' }, word(ctx, key)),
    ctx.h('strong', { class: 'dash-card-value' }, key === 'coverage' ? pct(value) : num(value)));
}

function chart(ctx, q, alt) {
  const src = '/v1/reports/chart.svg?' + qs({ ...q, lang: ctx.lang === 'en' ? 'en' : '' });
  return ctx.h('figure', { class: 'dash-chart' },
    ctx.h('img', { src, alt, loading: 'lazy', decoding: 'async' }));
}

async function download(ctx, report, q, format, table) {
  const path = `/v1/reports/${report}?` + qs({ ...q, format, table });
  const res = await ctx.api(path, { raw: true });
  const blob = await res.blob();
  const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : `${report}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function section(ctx, title, ...children) {
  return ctx.h('section', { class: 'dash-section' }, ctx.h('h3', {}, title), ...children);
}

function csvButton(ctx, report, q, tableName) {
  return ctx.h('button', {
    type: 'button', class: 'dash-csv no-print',
    'on:click': () => download(ctx, report, q, 'csv', tableName).catch((e) => ctx.status(e.message, 'error')),
  }, ctx.t('下载CSV', 'CSV'));
}

function nodeCols(ctx) {
  return [['name', ctx.t('名称', 'Name')], ['level', ctx.t('层级', 'Level'), (r) => ctx.level(r.level)]];
}

function figureCols(ctx, keys) {
  return keys.map((k) => [k, word(ctx, k)]);
}

const SUMMARY_KEYS = ['records', 'open', 'new', 'closed', 'overdue', 'escalated', 'conflicted'];

function metricSelect(ctx, s) {
  const el = ctx.h('select', { id: 'dash-metric', 'on:change': (e) => ctx.go(route(s, { metric: e.target.value })) },
    SUMMARY_KEYS.map((k) => ctx.h('option', { value: k }, word(ctx, k))));
  el.value = s.metric;
  return el;
}

// ---------------------------------------------------------------- dashboard

async function dashboardPage(view, ctx, params) {
  const h = ctx.h;
  const my = ++seq;
  const s = stateOf(ctx, params);
  const node = nodeOf(ctx, s.node);
  const pq = periodQuery(s);
  const q = { node: s.node, ...(s.report === 'brief' ? { date: s.date } : pq) };
  ctx.status(ctx.t('加载中…', 'Loading…'), 'loading');
  view.replaceChildren();
  view.classList.add('dash');
  const go = (changes) => ctx.go(route(s, changes));
  const control = (label, input) => h('label', {}, h('span', {}, label), input);
  const select = (id, value, options, on) => {
    const el = h('select', { id, 'on:change': (e) => on(e.target.value) },
      Object.entries(options).map(([k, [zh, en]]) => h('option', { value: k }, ctx.t(zh, en))));
    el.value = value;
    return el;
  };
  const dateInput = (id, value, key) => h('input', { id, type: 'date', value, 'on:change': (e) => go({ [key]: e.target.value }) });
  const controls = h('form', { class: 'dash-controls no-print', 'on:submit': (e) => e.preventDefault() },
    control(ctx.t('报表', 'Report'), select('dash-report', s.report, REPORTS, (v) => go({ report: v }))),
    s.report === 'brief' ? null : control(ctx.t('周期', 'Period'), select('dash-period', s.period, PERIODS, (v) => go({ period: v }))),
    s.period === 'range' && s.report !== 'brief'
      ? [control(ctx.t('自', 'From'), dateInput('dash-from', s.from || today(), 'from')),
        control(ctx.t('至', 'To'), dateInput('dash-to', s.to || today(), 'to'))]
      : control(ctx.t('日期', 'Date'), dateInput('dash-date', s.date || today(), 'date')),
    s.report === 'summary'
      ? control(ctx.t('趋势', 'Trend'), select('dash-by', s.by, { day: ['按日', 'Per day'], week: ['按周', 'Per week'] }, (v) => go({ by: v })))
      : null,
    h('span', { class: 'dash-actions' },
      h('button', { type: 'button', id: 'dash-xlsx', class: 'dash-button', 'on:click': () => download(ctx, s.report, q, 'xlsx').catch((e) => ctx.status(e.message, 'error')) }, ctx.t('导出Excel', 'Excel')),
      h('a', { href: '#/map?' + qs({ node: s.node }), class: 'dash-button' }, ctx.t('地图', 'Map')),
      h('a', { href: '#/brief?' + qs({ node: s.node }), class: 'dash-button' }, ctx.t('打印简报', 'Print brief'))));
  const search = h('form', {
    class: 'dash-search no-print', role: 'search',
    'on:submit': (e) => { e.preventDefault(); const v = e.target.elements.q.value.trim(); if (v) ctx.go('#/search?' + qs({ q: v, node: s.node })); },
  }, h('label', {}, h('span', {}, ctx.t('搜索', 'Search')),
    h('input', { name: 'q', id: 'dash-q', type: 'search', placeholder: ctx.t('标题、地址、姓名', 'Title, address, name') })),
  h('button', { type: 'submit' }, ctx.t('搜索', 'Search')));
  const head = h('div', { class: 'dash-head' },
    h('h2', {}, `${node ? node.name : s.node} · ${ctx.t(...REPORTS[s.report])}`),
    breadcrumb(ctx, s.node, (code) => route(s, { node: code })));
  const body = h('div', { class: 'dash-body', id: 'dash-body' });
  view.append(head, controls, search, body);
  try {
    const r = await ctx.api(`/v1/reports/${s.report}?` + qs(q));
    if (my !== seq) return;
    const parts = await RENDER[s.report](ctx, s, r, q);
    if (my !== seq) return;
    body.replaceChildren(h('p', { class: 'dash-period' },
      s.report === 'overdue'
        ? ctx.t(`截至 ${chinaTime(r.as_of)}`, `As of ${chinaTime(r.as_of)}`)
        : ctx.t(`${r.period.first_day} 至 ${r.period.last_day}（北京时间），截至 ${chinaTime(r.as_of)}`,
          `${r.period.first_day} to ${r.period.last_day} (China time), as of ${chinaTime(r.as_of)}`)), ...parts);
    ctx.status(ctx.t('已加载', 'Loaded'), 'done');
  } catch (e) {
    if (my !== seq) return;
    body.replaceChildren(h('p', { class: 'dash-error', role: 'alert' }, e.message));
    ctx.status(e.message, 'error');
  }
}

function drill(ctx, s) {
  return (row) => ctx.go(route(s, { node: row.code }));
}

async function casesOfGrid(ctx, grid) {
  const r = await ctx.api(`/v1/nodes/${encodeURIComponent(grid)}/cases?limit=100`);
  return r.records || [];
}

function caseTitle(ctx, rec) {
  const f = rec.fields || {};
  for (const k of ['title', 'description', 'summary', 'matter', 'name', 'task']) {
    const v = f[k];
    const text = v && typeof v === 'object' && 'value' in v ? v.value : v;
    if (typeof text === 'string' && text) return text.slice(0, 60);
  }
  return ctx.collection(rec.collection);
}

function caseTable(ctx, records) {
  const status = (r) => {
    const f = (r.fields || {}).status;
    const code = f && typeof f === 'object' && 'value' in f ? f.value : f;
    return code ? ctx.value(r.collection, 'status', code) : '';
  };
  return table(ctx, {
    id: 'dash-cases',
    caption: ctx.t('本网格案件（点击打开）', 'Cases of this grid (click to open)'),
    cols: [
      ['title', ctx.t('标题', 'Title'), (r) => caseTitle(ctx, r)],
      ['collection', ctx.t('类别', 'Kind'), (r) => ctx.collection(r.collection)],
      ['status', ctx.t('状态', 'Status'), status],
      ['deadline', ctx.t('期限', 'Deadline'), (r) => chinaTime(r.deadline)],
      ['overdue', ctx.t('超期', 'Overdue'), (r) => (r.overdue ? ctx.t('是', 'yes') : '')],
    ],
    rows: records,
    open: (r) => ctx.go('#/case/' + r.id),
    empty: ctx.t('本网格暂无案件', 'No cases in this grid'),
  });
}

const RENDER = {
  async summary(ctx, s, r, q) {
    const h = ctx.h;
    const node = nodeOf(ctx, s.node);
    const isGrid = node && node.level === 'grid';
    const trendQ = { node: s.node, ...periodQuery(s), by: s.by };
    const [trend, cases] = await Promise.all([
      ctx.api('/v1/reports/trend?' + qs(trendQ)),
      isGrid ? casesOfGrid(ctx, s.node) : Promise.resolve(null),
    ]);
    const metric = s.metric;
    const out = [
      h('div', { class: 'dash-cards', id: 'dash-cards' }, SUMMARY_KEYS.map((k) => card(ctx, k, r.totals[k], k === 'overdue' || k === 'conflicted'))),
    ];
    if (isGrid) {
      out.push(section(ctx, ctx.t('案件', 'Cases'), caseTable(ctx, cases)));
    } else {
      out.push(section(ctx, ctx.t('下级（点击进入）', 'One level down (click to open)'),
        h('label', { class: 'dash-metric no-print' }, h('span', {}, ctx.t('图表指标', 'Chart figure')),
          metricSelect(ctx, s)),
        chart(ctx, { chart: 'nodes', metric, ...q }, ctx.t(`${word(ctx, metric)}（按下级）`, `${word(ctx, metric)} by node`)),
        table(ctx, {
          id: 'dash-by-node',
          caption: ctx.t('按下级节点', 'By node'),
          cols: [...nodeCols(ctx), ...figureCols(ctx, SUMMARY_KEYS)],
          rows: r.by_node,
          open: drill(ctx, s),
        }),
        csvButton(ctx, 'summary', q, 'by_node')));
    }
    out.push(section(ctx, ctx.t(s.by === 'week' ? '案件趋势（按周）' : '案件趋势（按日）', s.by === 'week' ? 'Cases per week' : 'Cases per day'),
      chart(ctx, { chart: 'trend', node: s.node, ...periodQuery(s), by: s.by }, ctx.t('案件趋势', 'Case trend')),
      h('details', { class: 'dash-trend-table' }, h('summary', {}, ctx.t('趋势数据', 'Trend figures')),
        table(ctx, {
          id: 'dash-trend',
          caption: ctx.t('案件趋势', 'Case trend'),
          cols: [
            ['first_day', ctx.t('日期', 'Days'), (b) => (b.first_day === b.last_day ? b.first_day : `${b.first_day} – ${b.last_day}`)],
            ...figureCols(ctx, ['reported', 'closed', 'overdue']),
          ],
          rows: trend.buckets,
        }))));
    out.push(section(ctx, ctx.t('按类别', 'By kind'),
      chart(ctx, { chart: 'collections', metric, ...q }, ctx.t('按类别', 'By kind')),
      table(ctx, {
        id: 'dash-by-collection',
        caption: ctx.t('按类别', 'By kind'),
        cols: [['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)], ...figureCols(ctx, SUMMARY_KEYS)],
        rows: r.by_collection,
      }),
      csvButton(ctx, 'summary', q, 'by_collection')));
    out.push(section(ctx, ctx.t('事件分类', 'Events by category'),
      chart(ctx, { chart: 'categories', collection: 'event', metric, ...q }, ctx.t('事件分类', 'Events by category')),
      table(ctx, {
        id: 'dash-by-category',
        caption: ctx.t('按分类', 'By category'),
        cols: [
          ['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)],
          ['category', ctx.t('分类', 'Category'), (x) => (x.category ? ctx.value(x.collection, 'category', x.category) : ctx.t('（未填）', '(none)'))],
          ...figureCols(ctx, SUMMARY_KEYS),
        ],
        rows: r.by_category,
      }),
      csvButton(ctx, 'summary', q, 'by_category')));
    out.push(section(ctx, ctx.t('按状态', 'By status'),
      table(ctx, {
        id: 'dash-by-status',
        caption: ctx.t('按状态', 'By status'),
        cols: [
          ['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)],
          ['status', ctx.t('状态', 'Status'), (x) => (x.status ? ctx.value(x.collection, 'status', x.status) : ctx.t('（未填）', '(none)'))],
          ...figureCols(ctx, SUMMARY_KEYS),
        ],
        rows: r.by_status,
      })));
    return out;
  },

  async patrol(ctx, s, r, q) {
    const h = ctx.h;
    const keys = ['rounds', 'missed', 'planned', 'visited', 'missed_checkpoints', 'unplanned', 'checkins', 'coverage'];
    const cols = figureCols(ctx, keys).map(([k, head]) => (k === 'coverage' ? [k, head, (x) => pct(x.coverage)] : [k, head]));
    return [
      h('div', { class: 'dash-cards', id: 'dash-cards' }, keys.map((k) => card(ctx, k, r.totals[k], k === 'missed'))),
      section(ctx, ctx.t('各网格覆盖率', 'Coverage per grid'),
        chart(ctx, { chart: 'patrol', ...q }, ctx.t('巡逻覆盖率', 'Patrol coverage')),
        table(ctx, {
          id: 'dash-by-grid',
          caption: ctx.t('按网格', 'By grid'),
          cols: [['grid_name', ctx.t('网格', 'Grid')], ...cols],
          rows: r.by_grid,
          open: (row) => ctx.go(route(s, { node: row.grid, report: 'summary' })),
        }),
        csvButton(ctx, 'patrol', q, 'by_grid')),
      section(ctx, ctx.t('按日', 'By day'),
        table(ctx, { id: 'dash-by-day', caption: ctx.t('按日', 'By day'), cols: [['day', ctx.t('日期', 'Day')], ...cols], rows: r.by_day }),
        csvButton(ctx, 'patrol', q, 'by_day')),
    ];
  },

  async overdue(ctx, s, r, q) {
    return lists(ctx, r, q, 'overdue', r);
  },

  async ranking(ctx, s, r, q) {
    const h = ctx.h;
    const people = (rows, keys, name, id) => table(ctx, {
      id,
      caption: name,
      cols: [
        ['rank', ctx.t('排名', 'Rank')],
        ['full_name', ctx.t('姓名', 'Name')],
        ['node_name', ctx.t('所属节点', 'Node')],
        ...figureCols(ctx, keys),
      ],
      rows,
    });
    return [
      section(ctx, ctx.t('网格员', 'Grid workers'),
        people(r.grid_workers, ['score', 'reported', 'closed', 'visits', 'inspections', 'check_ins', 'case_actions', 'changes'], ctx.t('网格员排行', 'Grid workers'), 'dash-grid-workers'),
        csvButton(ctx, 'ranking', q, 'grid_workers')),
      section(ctx, ctx.t('调解员', 'Mediators'),
        people(r.mediators, ['score', 'sessions', 'agreed', 'closed', 'changes'], ctx.t('调解员排行', 'Mediators'), 'dash-mediators'),
        csvButton(ctx, 'ranking', q, 'mediators')),
      h('p', { class: 'dash-note' }, ctx.t(`共 ${r.counted.grid_workers} 名网格员、${r.counted.mediators} 名调解员参与排名`,
        `${r.counted.grid_workers} grid workers and ${r.counted.mediators} mediators ranked`)),
    ];
  },

  async brief(ctx, s, r, q) {
    return briefParts(ctx, s, r, q);
  },
};

function lists(ctx, r, q, report, src) {
  const h = ctx.h;
  const counts = src.counts || {};
  const out = [h('div', { class: 'dash-cards', id: 'dash-list-counts' }, LISTS.map((l) =>
    h('div', { class: 'dash-card' + (counts[l] > 0 ? ' alert' : ''), dataset: { key: l } },
      h('span', { class: 'dash-card-label' }, ctx.list(l)),
      h('strong', { class: 'dash-card-value' }, num(counts[l] || 0)))))];
  for (const l of LISTS) {
    const rows = src[l] || [];
    if (!rows.length) continue;
    out.push(section(ctx, ctx.list(l),
      table(ctx, {
        id: `dash-list-${l}`,
        caption: ctx.list(l),
        cols: [
          ['label', ctx.t('标题', 'Title'), (x) => x.label || ctx.collection(x.collection)],
          ['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)],
          ['grid_name', ctx.t('网格', 'Grid')],
          ['category', ctx.t('分类', 'Category'), (x) => (x.category ? ctx.value(x.collection, 'category', x.category) : '')],
          ['status', ctx.t('状态', 'Status'), (x) => (x.status ? ctx.value(x.collection, 'status', x.status) : '')],
          ['level', ctx.t('层级', 'Level'), (x) => ctx.level(x.level)],
          ['deadline', ctx.t('期限', 'Deadline'), (x) => chinaTime(x.deadline)],
          ['days_late', word(ctx, 'days_late')],
        ],
        rows,
        open: (x) => ctx.go('#/case/' + x.id),
      }),
      report ? csvButton(ctx, report, q, l) : null));
  }
  return out;
}

function briefParts(ctx, s, r, q) {
  const h = ctx.h;
  const keys = [...SUMMARY_KEYS, 'newly_overdue', 'due_soon'];
  return [
    h('div', { class: 'dash-cards', id: 'dash-cards' }, keys.map((k) => card(ctx, k, r.totals[k], ['overdue', 'newly_overdue', 'due_soon'].includes(k)))),
    section(ctx, ctx.t('按下级节点', 'By node'),
      table(ctx, {
        id: 'dash-by-node',
        caption: ctx.t('按下级节点', 'By node'),
        cols: [...nodeCols(ctx), ...figureCols(ctx, keys)],
        rows: r.by_node,
        open: s ? (row) => ctx.go(route(s, { node: row.code })) : null,
      })),
    section(ctx, ctx.t('按类别', 'By kind'),
      table(ctx, {
        id: 'dash-by-collection',
        caption: ctx.t('按类别', 'By kind'),
        cols: [['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)], ...figureCols(ctx, keys)],
        rows: r.by_collection,
      })),
    h('h3', { class: 'dash-at-risk' }, ctx.t('风险清单（昨日零时起新超期或24小时内到期）', 'At risk (late since yesterday 00:00 or due within 24 h)')),
    ...lists(ctx, r, q, s ? 'brief' : null, r.at_risk),
  ];
}

// ---------------------------------------------------------------- brief (print)

async function briefPage(view, ctx, params) {
  const h = ctx.h;
  const my = ++seq;
  const code = params.node || ctx.user.node;
  const node = nodeOf(ctx, code);
  view.replaceChildren();
  view.classList.add('dash', 'dash-brief');
  ctx.status(ctx.t('加载中…', 'Loading…'), 'loading');
  const q = { node: code, date: params.date || '' };
  try {
    const r = await ctx.api('/v1/reports/brief?' + qs(q));
    if (my !== seq) return;
    view.append(
      h('div', { class: 'dash-controls no-print' },
        h('label', {}, h('span', {}, ctx.t('日期', 'Date')),
          h('input', { id: 'brief-date', type: 'date', value: r.period.first_day, 'on:change': (e) => ctx.go('#/brief?' + qs({ node: code, date: e.target.value })) })),
        h('button', { type: 'button', id: 'brief-print', 'on:click': () => window.print() }, ctx.t('打印', 'Print')),
        h('a', { class: 'dash-button', href: '#/dashboard?' + qs({ node: code }) }, ctx.t('返回统计', 'Back to the dashboard'))),
      h('header', { class: 'brief-head' },
        h('h2', {}, ctx.t(`${node ? node.name : code} 每日研判简报`, `${node ? node.name : code}: daily brief`)),
        h('p', {}, ctx.t(`${r.period.first_day}（自 ${chinaTime(r.since)} 起），截至 ${chinaTime(r.as_of)}`,
          `${r.period.first_day} (since ${chinaTime(r.since)}), as of ${chinaTime(r.as_of)}`))),
      ...briefParts(ctx, null, r, q));
    ctx.status(ctx.t('已加载', 'Loaded'), 'done');
  } catch (e) {
    if (my !== seq) return;
    view.append(h('p', { class: 'dash-error', role: 'alert' }, e.message));
    ctx.status(e.message, 'error');
  }
}

// ---------------------------------------------------------------- search

async function searchPage(view, ctx, params) {
  const h = ctx.h;
  const my = ++seq;
  const code = params.node || ctx.user.node;
  const q = (params.q || '').trim();
  view.replaceChildren();
  view.classList.add('dash');
  const form = h('form', {
    class: 'dash-search', role: 'search',
    'on:submit': (e) => { e.preventDefault(); const v = e.target.elements.q.value.trim(); if (v) ctx.go('#/search?' + qs({ q: v, node: code })); },
  }, h('label', {}, h('span', {}, ctx.t('搜索标题、地址、姓名', 'Search titles, addresses, names')),
    h('input', { name: 'q', id: 'search-q', type: 'search', value: q, required: '' })),
  h('button', { type: 'submit' }, ctx.t('搜索', 'Search')));
  const results = h('div', { id: 'search-results' });
  view.append(h('h2', {}, ctx.t('搜索', 'Search')), breadcrumb(ctx, code, (c) => '#/search?' + qs({ q, node: c })), form, results);
  if (!q) {
    ctx.status(ctx.t('请输入要找的内容', 'Type what to find'), 'done');
    return;
  }
  ctx.status(ctx.t('搜索中…', 'Searching…'), 'loading');
  try {
    const r = await ctx.api('/v1/search?' + qs({ q, node: code, limit: 100 }));
    if (my !== seq) return;
    const fieldWords = (x) => Object.entries(x.fields || {})
      .map(([k, v]) => `${ctx.field(x.collection, k)}：${v}`).join('；');
    results.replaceChildren(
      h('p', { class: 'dash-note' }, ctx.t(`找到 ${r.hits.length}${r.more ? '+' : ''} 条`, `${r.hits.length}${r.more ? '+' : ''} found`)),
      table(ctx, {
        id: 'search-table',
        caption: ctx.t(`“${q}”的搜索结果`, `Results for “${q}”`),
        cols: [
          ['title', ctx.t('标题', 'Title'), (x) => x.title || ctx.collection(x.collection)],
          ['collection', ctx.t('类别', 'Kind'), (x) => ctx.collection(x.collection)],
          ['grid_name', ctx.t('网格', 'Grid')],
          ['status', ctx.t('状态', 'Status'), (x) => (x.status ? ctx.value(x.collection, 'status', x.status) : '')],
          ['matched', ctx.t('匹配', 'Matched'), (x) => x.matched.map((f) => ctx.field(x.collection, f)).join('、')],
          ['fields', ctx.t('内容', 'Fields'), fieldWords],
        ],
        rows: r.hits,
        open: (x) => ctx.go('#/case/' + x.id),
        empty: ctx.t('没有找到', 'Nothing found'),
      }));
    ctx.status(ctx.t('已加载', 'Loaded'), 'done');
  } catch (e) {
    if (my !== seq) return;
    results.replaceChildren(h('p', { class: 'dash-error', role: 'alert' }, e.message));
    ctx.status(e.message, 'error');
  }
}

// ---------------------------------------------------------------- map

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on:')) el.addEventListener(k.slice(3), v);
    else if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/// The map drawn from the answer: a plain equirectangular projection scaled
/// by the cosine of the middle latitude (a district is a few km across).
export function drawMap(ctx, m) {
  const W = 1000;
  const b = m.bounds;
  if (!b) return ctx.h('p', { class: 'dash-empty' }, ctx.t('没有带位置的记录', 'Nothing with a position'));
  const k = Math.cos(((b.min_lat + b.max_lat) / 2) * Math.PI / 180);
  const spanX = Math.max((b.max_lon - b.min_lon) * k, 1e-4);
  const spanY = Math.max(b.max_lat - b.min_lat, 1e-4);
  const pad = 40;
  const scale = (W - 2 * pad) / Math.max(spanX, spanY);
  const H = Math.round(spanY * scale + 2 * pad);
  const x = (lon) => pad + (lon - b.min_lon) * k * scale;
  const y = (lat) => pad + (b.max_lat - lat) * scale;
  const outlines = m.grids.map((g) => {
    const pts = g.outline.map(([lat, lon]) => `${x(lon).toFixed(1)},${y(lat).toFixed(1)}`);
    const cx = g.outline.reduce((a, [, lon]) => a + x(lon), 0) / g.outline.length;
    const cy = g.outline.reduce((a, [lat]) => a + y(lat), 0) / g.outline.length;
    const shape = g.outline.length >= 3
      ? svg('polygon', { points: pts.join(' '), class: 'map-grid' })
      : g.outline.length === 2
        ? svg('polyline', { points: pts.join(' '), class: 'map-grid' })
        : svg('circle', { cx: cx.toFixed(1), cy: cy.toFixed(1), r: 14, class: 'map-grid' });
    return svg('g', { class: 'map-grid-group', 'data-grid': g.code },
      svg('title', {}, `${g.name}（${g.points}）`), shape,
      svg('text', { x: cx.toFixed(1), y: cy.toFixed(1), class: 'map-grid-label', 'text-anchor': 'middle' }, g.name));
  });
  const points = m.points.map((p) => {
    const kind = p.collection === 'place' ? 'place' : (p.overdue ? 'overdue' : (p.open ? 'open' : 'closed'));
    const status = p.status ? ctx.value(p.collection, 'status', p.status) : '';
    const label = `${ctx.collection(p.collection)}：${p.title || ''}${status ? '（' + status + '）' : ''}`;
    return svg('a', { href: '#/case/' + p.id, class: 'map-point ' + kind, 'data-id': p.id, 'aria-label': label },
      svg('title', {}, label),
      svg('circle', { cx: x(p.lon).toFixed(1), cy: y(p.lat).toFixed(1), r: 6 }));
  });
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'dash-map', id: 'dash-map', role: 'img', 'aria-label': ctx.t('案件与场所分布图', 'Map of cases and places') },
    svg('rect', { x: 0, y: 0, width: W, height: H, class: 'map-bg' }), ...outlines, ...points);
}

async function mapPage(view, ctx, params) {
  const h = ctx.h;
  const my = ++seq;
  const code = params.node || ctx.user.node;
  view.replaceChildren();
  view.classList.add('dash');
  ctx.status(ctx.t('加载中…', 'Loading…'), 'loading');
  const kids = childrenOf(ctx, code);
  const head = h('div', { class: 'dash-head' },
    h('h2', {}, ctx.t(`${nodeOf(ctx, code)?.name || code} 地图`, `${nodeOf(ctx, code)?.name || code}: map`)),
    breadcrumb(ctx, code, (c) => '#/map?' + qs({ node: c })),
    h('div', { class: 'dash-controls no-print' },
      kids.length ? h('label', {}, h('span', {}, ctx.t('下级', 'Go down to')),
        h('select', { id: 'map-node', 'on:change': (e) => e.target.value && ctx.go('#/map?' + qs({ node: e.target.value })) },
          h('option', { value: '' }, ctx.t('选择…', 'Choose…')),
          kids.map((n) => h('option', { value: n.code }, n.name)))) : null,
      h('a', { class: 'dash-button', href: '#/dashboard?' + qs({ node: code }) }, ctx.t('返回统计', 'Back to the dashboard'))));
  view.append(head);
  try {
    const m = await ctx.api('/v1/reports/map?' + qs({ node: code }));
    if (my !== seq) return;
    const legend = h('ul', { class: 'map-legend' },
      [['open', ctx.t('在办案件', 'Open case')], ['overdue', ctx.t('超期案件', 'Overdue case')], ['closed', ctx.t('已办结', 'Closed')], ['place', ctx.t('场所', 'Place')]]
        .map(([k, text]) => h('li', { class: k }, text)));
    view.append(
      h('p', { class: 'dash-note' }, ctx.t(
        `${m.total} 个带位置的案件和场所${m.sampled ? `（显示其中 ${m.points.length} 个）` : ''}；网格轮廓由记录位置计算（凸包）`,
        `${m.total} cases and places with a position${m.sampled ? ` (${m.points.length} shown)` : ''}; grid outlines are computed from the positions (convex hull)`)),
      legend,
      h('div', { class: 'dash-map-wrap' }, drawMap(ctx, m)));
    ctx.status(ctx.t('已加载', 'Loaded'), 'done');
  } catch (e) {
    if (my !== seq) return;
    view.append(h('p', { class: 'dash-error', role: 'alert' }, e.message));
    ctx.status(e.message, 'error');
  }
}

export async function render(view, ctx, params) {
  const page = params.page || 'dashboard';
  if (page === 'search') return searchPage(view, ctx, params);
  if (page === 'map') return mapPage(view, ctx, params);
  if (page === 'brief') return briefPage(view, ctx, params);
  return dashboardPage(view, ctx, params);
}
