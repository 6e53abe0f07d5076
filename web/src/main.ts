// tollgate's dashboard: reads the JSON API under /api/ (src/dashboard/dashboard.cc)
// and renders totals, daily spend by model, breakdowns, budgets, the most
// expensive requests, latency percentiles and a live feed. No framework: each
// panel is a function that fetches its endpoint and rewrites its own DOM.
// The chosen range lives in the URL hash (#from=YYYY-MM-DD&to=YYYY-MM-DD).
import './style.css';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);

// ---------------------------------------------------------------------------
// Types of the API's answers.

interface Totals {
  cost_usd: number;
  tokens: number;
  input_tokens: number;
  output_tokens: number;
  requests: number;
  errors: number;
  unknown_cost_requests: number;
}
interface Summary {
  from: string;
  to: string;
  totals: Totals;
  cache: { enabled: boolean; lookups: number; hits: number; hit_rate: number | null };
  savings: { configured: boolean; saved_usd: number | null; message: string };
}
interface Daily {
  days: string[];
  models: { model: string; cost_usd: number; daily_cost_usd: number[]; daily_requests: number[] }[];
}
interface Breakdown {
  by: string;
  totals: Totals;
  group_count: number;
  rows: (Totals & { group: string })[];
}
interface Budget {
  id: string;
  name: string;
  scope: string;
  subject: string | null;
  model: string | null;
  window: string;
  limit_usd: number | null;
  soft_limit_usd: number | null;
  spent_usd?: number;
  soft_limit_exceeded?: boolean;
  hard_limit_reached?: boolean;
  window_start: string;
  resets_at: string | null;
}
interface ListRow {
  seq: number;
  id: string;
  ts_start_ms: number;
  endpoint: string;
  model: string | null;
  provider: string | null;
  api_key: string | null;
  user: string | null;
  project: string | null;
  status: number;
  error_class: string | null;
  tokens: number;
  cost_usd: number | null;
  latency_ms: number | null;
  streamed: number;
}
interface Latency {
  providers: {
    provider: string;
    requests: number;
    p50_ms: number;
    p95_ms: number;
    ttft_p50_ms: number | null;
    ttft_p95_ms: number | null;
  }[];
}

// ---------------------------------------------------------------------------
// Formatting. Exported on window for the browser tests, which compare what is
// shown with `tollgate report`.

const intFmt = new Intl.NumberFormat('en-US');
export function formatUsd(v: number): string {
  if (v !== 0 && Math.abs(v) < 1) return '$' + v.toFixed(4);
  return '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
export function formatInt(v: number): string {
  return intFmt.format(v);
}
function formatMs(v: number | null): string {
  if (v === null || v === undefined) return 'n/a';
  return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : Math.round(v) + ' ms';
}
function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
function shortKey(k: string | null): string {
  return k ?? '(none)';
}

// ---------------------------------------------------------------------------
// DOM helpers.

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function td(text: string, cls = ''): HTMLTableCellElement {
  return el('td', cls ? { class: cls } : {}, text);
}

function showError(what: string, err: unknown): void {
  const b = $('banner');
  b.hidden = false;
  b.textContent = `Could not load ${what}: ${err instanceof Error ? err.message : String(err)}`;
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      message = JSON.parse(text).error.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new Error(message);
  }
  return JSON.parse(text) as T;
}

// ---------------------------------------------------------------------------
// The range.

interface Range {
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;
function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
function lastDays(n: number): Range {
  const now = Date.now();
  return { from: isoDay(now - (n - 1) * DAY_MS), to: isoDay(now) };
}
function rangeFromHash(): Range {
  const h = new URLSearchParams(location.hash.slice(1));
  const from = h.get('from');
  const to = h.get('to');
  const ok = (s: string | null) => !!s && /^\d{4}-\d{2}-\d{2}$/.test(s);
  if (ok(from) && ok(to)) return { from: from!, to: to! };
  return lastDays(30);
}
function rangeQuery(r: Range): string {
  return `from=${r.from}&to=${r.to}`;
}

// ---------------------------------------------------------------------------
// Panels.

async function loadSummary(r: Range): Promise<void> {
  const s = await api<Summary>(`/api/summary?${rangeQuery(r)}`);
  const t = s.totals;
  const spend = $('total-spend');
  spend.textContent = formatUsd(t.cost_usd);
  spend.dataset.value = String(t.cost_usd);
  $('total-spend-sub').textContent =
    t.unknown_cost_requests > 0 ? `${formatInt(t.unknown_cost_requests)} requests with no known price` : `${s.from} to ${s.to}`;
  const tokens = $('total-tokens');
  tokens.textContent = formatInt(t.tokens);
  tokens.dataset.value = String(t.tokens);
  $('total-tokens-sub').textContent = `${formatInt(t.input_tokens)} in · ${formatInt(t.output_tokens)} out`;
  const requests = $('total-requests');
  requests.textContent = formatInt(t.requests);
  requests.dataset.value = String(t.requests);
  $('total-requests-sub').textContent = `${formatInt(t.errors)} errors`;

  // Without a response cache there is no rate to show: say so rather than make one up.
  const rate = $('cache-rate');
  rate.textContent = s.cache.hit_rate === null ? 'n/a' : (s.cache.hit_rate * 100).toFixed(1) + '%';
  $('cache-sub').textContent = s.cache.enabled
    ? `${formatInt(s.cache.hits)} hits of ${formatInt(s.cache.lookups)} lookups`
    : `${formatInt(s.cache.hits)} hits · no response cache configured`;

  $('savings-figure').textContent = s.savings.saved_usd === null ? '–' : formatUsd(s.savings.saved_usd);
  $('savings-sub').textContent = s.savings.message;
}

const PALETTE = ['#4f6bed', '#13a89e', '#f2a541', '#e4572e', '#8e6bd8', '#2e86ab', '#a4c639', '#d4558b', '#6c757d', '#17becf'];
const MAX_SERIES = 9; // the rest is folded into "other models"
let dailyChart: Chart<'bar'> | null = null;

async function loadDaily(r: Range): Promise<void> {
  const d = await api<Daily>(`/api/daily?${rangeQuery(r)}`);
  const shown = d.models.slice(0, MAX_SERIES);
  const rest = d.models.slice(MAX_SERIES);
  const series = shown.map((m) => ({ label: m.model, data: m.daily_cost_usd }));
  if (rest.length) {
    series.push({
      label: `${rest.length} other models`,
      data: d.days.map((_, i) => rest.reduce((a, m) => a + m.daily_cost_usd[i], 0)),
    });
  }
  const canvas = $<HTMLCanvasElement>('daily-chart');
  const bars = series.reduce((n, s) => n + s.data.filter((v) => v > 0).length, 0);
  canvas.dataset.bars = String(bars);
  canvas.dataset.series = String(series.length);
  $('daily-empty').hidden = d.models.length > 0;
  $('daily-caption').textContent = `${d.days[0]} to ${d.days[d.days.length - 1]}`;
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: {
      labels: d.days.map((day) => day.slice(5)),
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.data,
        backgroundColor: PALETTE[i % PALETTE.length],
        borderWidth: 0,
        stack: 'spend',
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => '$' + Number(v).toLocaleString('en-US') } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => d.days[items[0].dataIndex],
            label: (item) => `${item.dataset.label}: ${formatUsd(Number(item.raw))}`,
          },
        },
      },
    },
  };
  if (dailyChart) dailyChart.destroy();
  dailyChart = new Chart(canvas, config);
}

const DIM_NAMES: Record<string, string> = { key: 'Key', user: 'User', project: 'Project', model: 'Model', provider: 'Provider' };
let breakdownBy = 'model';

async function loadBreakdown(r: Range): Promise<void> {
  const b = await api<Breakdown>(`/api/breakdown?by=${breakdownBy}&limit=50&${rangeQuery(r)}`);
  for (const t of document.querySelectorAll<HTMLButtonElement>('#breakdown-tabs button')) {
    t.setAttribute('aria-selected', String(t.dataset.by === breakdownBy));
  }
  $('breakdown-dim').textContent = DIM_NAMES[b.by] ?? b.by;
  const body = document.querySelector('#breakdown tbody')!;
  body.replaceChildren();
  const total = b.totals.cost_usd;
  for (const row of b.rows) {
    const share = total > 0 ? row.cost_usd / total : 0;
    const bar = el('div', { class: 'share' }, el('div', { class: 'share-fill' }));
    (bar.firstChild as HTMLElement).style.width = `${(share * 100).toFixed(1)}%`;
    const tr = el(
      'tr',
      { 'data-group': row.group },
      td(row.group, 'mono'),
      td(formatInt(row.requests), 'num'),
      td(formatInt(row.tokens), 'num'),
      td(formatInt(row.errors), 'num'),
      td(formatUsd(row.cost_usd), 'num'),
      el('td', {}, bar, el('span', { class: 'small muted' }, ` ${(share * 100).toFixed(1)}%`)),
    );
    tr.dataset.cost = String(row.cost_usd);
    body.append(tr);
  }
  if (!b.rows.length) body.append(el('tr', {}, el('td', { colspan: '6', class: 'empty' }, 'No requests in this range.')));
  const more = $('breakdown-more');
  more.hidden = b.group_count <= b.rows.length;
  more.textContent = `Showing the top ${b.rows.length} of ${formatInt(b.group_count)}; the CSV export has them all.`;
}

function resetsIn(resets: string | null): string {
  if (!resets) return 'never resets (lifetime)';
  const ms = Date.parse(resets.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) - Date.now();
  if (!Number.isFinite(ms)) return `resets ${resets}`;
  const h = Math.max(0, Math.round(ms / 3_600_000));
  const when = h >= 48 ? `${Math.round(h / 24)} days` : `${h} h`;
  return `resets in ${when} (${resets})`;
}

async function loadBudgets(): Promise<void> {
  const b = await api<{ data: Budget[] }>('/api/budgets');
  const list = $('budgets');
  list.replaceChildren();
  if (!b.data.length) {
    list.append(el('li', { class: 'empty' }, 'No budgets configured. Add one with `tollgate budgets set` or under budgets: in the config.'));
    return;
  }
  for (const x of b.data) {
    const spent = x.spent_usd ?? 0;
    const limit = x.limit_usd ?? x.soft_limit_usd;
    const pct = limit && limit > 0 ? Math.min(1, spent / limit) : 0;
    const state = x.hard_limit_reached ? 'over' : x.soft_limit_exceeded ? 'warn' : 'ok';
    const fill = el('div', { class: `bar-fill ${state}` });
    fill.style.width = `${(pct * 100).toFixed(1)}%`;
    const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': (pct * 100).toFixed(0) }, fill);
    if (x.soft_limit_usd && x.limit_usd && x.limit_usd > 0) {
      const mark = el('div', { class: 'bar-mark', title: `soft limit ${formatUsd(x.soft_limit_usd)}` });
      mark.style.left = `${Math.min(100, (x.soft_limit_usd / x.limit_usd) * 100).toFixed(1)}%`;
      bar.append(mark);
    }
    const who = x.scope === 'global' ? 'all traffic' : `${x.scope} ${x.subject ?? ''}`;
    const limits = [x.limit_usd !== null ? `limit ${formatUsd(x.limit_usd)}` : null, x.soft_limit_usd !== null ? `soft ${formatUsd(x.soft_limit_usd)}` : null]
      .filter(Boolean)
      .join(' · ');
    list.append(
      el(
        'li',
        { class: 'budget', 'data-budget': x.name },
        el('div', { class: 'budget-head' }, el('strong', {}, x.name), el('span', { class: 'muted small' }, ` ${x.window} · ${who}${x.model ? ' · ' + x.model : ''}`)),
        bar,
        el('div', { class: 'budget-foot small' }, el('span', {}, `${formatUsd(spent)} spent${limits ? ' of ' + limits : ''}`), el('span', { class: 'muted' }, resetsIn(x.resets_at))),
      ),
    );
  }
}

async function openRequest(id: string): Promise<void> {
  const d = await api<{ row: Record<string, unknown>; budget_charges: { budget_id: string; name: string | null; window_start_ms: number }[] }>(
    `/api/request?id=${encodeURIComponent(id)}`,
  );
  $('request-title').textContent = `Request ${id}`;
  const body = document.querySelector('#request-row tbody')!;
  body.replaceChildren();
  for (const [k, v] of Object.entries(d.row)) {
    let shown = v === null ? 'NULL' : String(v);
    if ((k === 'ts_start_ms' || k === 'ts_end_ms') && typeof v === 'number') shown += `  (${formatTime(v)} UTC)`;
    body.append(el('tr', { 'data-column': k }, el('th', {}, k), td(shown, 'mono')));
  }
  const charges = $('request-charges');
  charges.replaceChildren();
  for (const c of d.budget_charges) charges.append(el('li', {}, `${c.name ?? c.budget_id} · window from ${formatTime(c.window_start_ms)} UTC`));
  if (!d.budget_charges.length) charges.append(el('li', { class: 'muted' }, 'none'));
  const dialog = $<HTMLDialogElement>('request-dialog');
  if (!dialog.open) dialog.showModal();
}

async function loadTop(r: Range): Promise<void> {
  const t = await api<{ rows: ListRow[] }>(`/api/top?limit=15&${rangeQuery(r)}`);
  const body = document.querySelector('#top tbody')!;
  body.replaceChildren();
  for (const row of t.rows) {
    const tr = el(
      'tr',
      { class: 'clickable', tabindex: '0', 'data-id': row.id },
      td(formatTime(row.ts_start_ms)),
      td(row.model ?? '(none)', 'mono'),
      td(shortKey(row.api_key), 'mono'),
      td(formatInt(row.tokens), 'num'),
      td(row.cost_usd === null ? 'unknown' : formatUsd(row.cost_usd), 'num'),
    );
    const open = () => openRequest(row.id).catch((e) => showError('the request', e));
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') open();
    });
    body.append(tr);
  }
  if (!t.rows.length) body.append(el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'No priced requests in this range.')));
}

async function loadLatency(r: Range): Promise<void> {
  const l = await api<Latency>(`/api/latency?${rangeQuery(r)}`);
  const body = document.querySelector('#latency tbody')!;
  body.replaceChildren();
  for (const p of l.providers) {
    body.append(
      el(
        'tr',
        { 'data-provider': p.provider },
        td(p.provider, 'mono'),
        td(formatInt(p.requests), 'num'),
        td(formatMs(p.p50_ms), 'num'),
        td(formatMs(p.p95_ms), 'num'),
        td(formatMs(p.ttft_p50_ms), 'num'),
        td(formatMs(p.ttft_p95_ms), 'num'),
      ),
    );
  }
  if (!l.providers.length) body.append(el('tr', {}, el('td', { colspan: '6', class: 'empty' }, 'No successful requests in this range.')));
}

// ---------------------------------------------------------------------------
// Advise: /api/advise (`tollgate plan --from-ledger` as JSON), on demand since
// it scans the range's rows. Per traffic model, the cheapest GPU of each
// candidate open model; a chart of monthly cost by output volume.

interface Span {
  low: number;
  high: number;
}
interface Candidate {
  model: string;
  quantization: string;
  gpu: string;
  fits: boolean;
  gpus?: Span;
  rented_usd_per_month?: Span;
  owned_usd_per_month?: Span;
  break_even_output_tokens_per_month?: Span;
}
interface ModelAdvice {
  model: string;
  peak_concurrency: number;
  output_tokens_per_month: number;
  api_usd_per_month: number;
  api_usd_per_mtok_output: number;
  candidates: Candidate[];
  recommendations: string[];
}
interface Advice {
  from: string;
  to: string;
  models: ModelAdvice[];
  assumptions: string[];
}

let adviseChart: Chart<'line'> | null = null;
let advised = false;

function spanText(s: Span | undefined, f: (v: number) => string): string {
  if (!s) return '–';
  return s.low === s.high ? f(s.low) : `${f(s.low)}–${f(s.high)}`;
}
const wholeUsd = (v: number) => '$' + Math.round(v).toLocaleString('en-US');
function volume(v: number): string {
  return v >= 1e9 ? `${(v / 1e9).toFixed(1)}B` : `${Math.round(v / 1e6).toLocaleString('en-US')}M`;
}

// The cheapest fitting candidate of each open model (candidates come cheapest first).
function bestPerModel(m: ModelAdvice): Candidate[] {
  const seen = new Set<string>();
  return m.candidates.filter((c) => c.fits && !seen.has(c.model) && seen.add(c.model));
}

async function loadAdvise(r: Range): Promise<void> {
  advised = true;
  const a = await api<Advice>(`/api/advise?${rangeQuery(r)}`);
  const body = document.querySelector('#advise-fleets tbody')!;
  body.replaceChildren();
  const recs = $('advise-recommendations');
  recs.replaceChildren();
  for (const m of a.models) {
    for (const c of bestPerModel(m)) {
      body.append(
        el(
          'tr',
          { 'data-model': m.model, 'data-candidate': c.model, 'data-gpu': c.gpu },
          td(m.model || '(all)', 'mono'),
          td(formatInt(m.peak_concurrency), 'num'),
          td(`${c.model} ${c.quantization}`),
          td(c.gpu),
          td(spanText(c.gpus, (v) => String(v)), 'num'),
          td(spanText(c.rented_usd_per_month, wholeUsd), 'num'),
          td(spanText(c.owned_usd_per_month, wholeUsd), 'num'),
          td(wholeUsd(m.api_usd_per_month), 'num'),
          td(spanText(c.break_even_output_tokens_per_month, volume), 'num'),
        ),
      );
    }
    for (const s of m.recommendations) recs.append(el('li', {}, s));
  }
  $('advise-fleets').hidden = false;
  $('advise-summary').hidden = false;
  $('advise-summary').textContent = a.models.length
    ? `${a.from} to ${a.to}: ${a.models.length} traffic group(s); ranges span the GPU price range and 40–80% of the roofline.`
    : `${a.from} to ${a.to}: no generations in this range, nothing to size.`;
  const assumptions = $('advise-assumptions');
  assumptions.replaceChildren(...a.assumptions.map((s) => el('li', {}, s)));
  $('advise-assumptions-box').hidden = false;

  // The break-even chart of the first group: the API's cost grows with volume,
  // each fleet's (sized for today's peak) is flat between its low and high.
  const box = $('advise-chart-box');
  const canvas = $<HTMLCanvasElement>('advise-chart');
  if (adviseChart) adviseChart.destroy();
  adviseChart = null;
  box.hidden = !a.models.length;
  canvas.dataset.series = '0';
  if (!a.models.length) return;
  const m = a.models[0];
  const best = bestPerModel(m).slice(0, 4);
  let xMax = Math.max(2 * m.output_tokens_per_month, 1e6);
  for (const c of best) xMax = Math.max(xMax, 1.2 * (c.break_even_output_tokens_per_month?.high ?? 0));
  const perToken = m.api_usd_per_mtok_output / 1e6;
  const datasets: { label: string; data: { x: number; y: number }[]; borderColor: string; borderDash?: number[] }[] = [
    { label: `API (${formatUsd(m.api_usd_per_mtok_output)}/Mtok out)`, data: [{ x: 0, y: 0 }, { x: xMax / 1e9, y: xMax * perToken }], borderColor: PALETTE[0] },
  ];
  best.forEach((c, i) => {
    const span = c.rented_usd_per_month!;
    for (const [end, v] of [['low', span.low], ['high', span.high]] as const)
      datasets.push({
        label: `${c.model} on ${c.gpu} (${end})`,
        data: [{ x: 0, y: v }, { x: xMax / 1e9, y: v }],
        borderColor: PALETTE[(i + 1) % PALETTE.length],
        borderDash: end === 'low' ? [6, 4] : undefined,
      });
  });
  const top = Math.max(...datasets.map((d) => d.data[1].y));
  datasets.push({ label: 'today', data: [{ x: m.output_tokens_per_month / 1e9, y: 0 }, { x: m.output_tokens_per_month / 1e9, y: top }], borderColor: '#333' });
  canvas.dataset.series = String(datasets.length);
  adviseChart = new Chart(canvas, {
    type: 'line',
    data: { datasets: datasets.map((d) => ({ ...d, backgroundColor: d.borderColor, pointRadius: 0, borderWidth: 2 })) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { type: 'linear', beginAtZero: true, title: { display: true, text: 'output tokens per month (billions)' } },
        y: { beginAtZero: true, title: { display: true, text: 'USD per month' }, ticks: { callback: (v) => wholeUsd(Number(v)) } },
      },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
    },
  });
}

// ---------------------------------------------------------------------------
// The live feed: polls /api/recent with the cursor of the newest row seen.

const LIVE_ROWS = 25;
const LIVE_POLL_MS = 2000;
let liveCursor = 0;
let livePaused = false;
let liveTimer: number | undefined;

function liveRow(row: ListRow): HTMLTableRowElement {
  const cost = row.cost_usd === null ? 'unknown' : formatUsd(row.cost_usd);
  const tr = el(
    'tr',
    { class: `clickable${row.error_class ? ' error' : ''}`, 'data-id': row.id, title: row.error_class ?? '' },
    td(formatTime(row.ts_start_ms)),
    td(row.endpoint),
    td(row.model ?? '(none)', 'mono'),
    td(row.provider ?? '', 'mono'),
    td(shortKey(row.api_key), 'mono'),
    td(String(row.status), 'num'),
    td(formatInt(row.tokens), 'num'),
    td(formatMs(row.latency_ms), 'num'),
    td(cost, 'num'),
  );
  tr.addEventListener('click', () => openRequest(row.id).catch((e) => showError('the request', e)));
  return tr;
}

async function pollLive(): Promise<void> {
  if (!livePaused) {
    try {
      const first = liveCursor === 0;
      const r = await api<{ rows: ListRow[]; cursor: number }>(`/api/recent?limit=${LIVE_ROWS}&after=${liveCursor}`);
      liveCursor = r.cursor;
      const body = document.querySelector('#live tbody')!;
      if (first) body.replaceChildren();
      body.querySelector('.empty')?.closest('tr')?.remove();
      const fresh = r.rows.map(liveRow);
      body.prepend(...fresh);
      while (body.children.length > LIVE_ROWS) body.lastElementChild!.remove();
      if (!body.children.length) body.append(el('tr', {}, el('td', { colspan: '9', class: 'empty' }, 'Waiting for requests…')));
      $('live-status').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } catch (e) {
      $('live-status').textContent = `feed error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  liveTimer = window.setTimeout(pollLive, LIVE_POLL_MS);
}

// ---------------------------------------------------------------------------
// Wiring.

let current: Range = rangeFromHash();

function setExportLinks(r: Range): void {
  const req = $<HTMLAnchorElement>('export-requests');
  req.href = `/api/export.csv?${rangeQuery(r)}`;
  req.download = `tollgate-requests-${r.from}-to-${r.to}.csv`;
  const rep = $<HTMLAnchorElement>('export-report');
  rep.href = `/api/export.csv?by=day&${rangeQuery(r)}`;
  rep.download = `tollgate-day-${r.from}-to-${r.to}.csv`;
}

async function loadAll(): Promise<void> {
  document.body.dataset.ready = 'false';
  $('banner').hidden = true;
  const r = current;
  $<HTMLInputElement>('from').value = r.from;
  $<HTMLInputElement>('to').value = r.to;
  for (const b of document.querySelectorAll<HTMLButtonElement>('.presets button')) {
    const want = lastDays(Number(b.dataset.days));
    b.setAttribute('aria-pressed', String(want.from === r.from && want.to === r.to));
  }
  setExportLinks(r);
  const started = performance.now();
  const jobs: [string, Promise<void>][] = [
    ['totals', loadSummary(r)],
    ['daily spend', loadDaily(r)],
    ['the breakdown', loadBreakdown(r)],
    ['budgets', loadBudgets()],
    ['the most expensive requests', loadTop(r)],
    ['latency', loadLatency(r)],
  ];
  if (advised) jobs.push(['the advice', loadAdvise(r)]);
  const results = await Promise.allSettled(jobs.map(([, p]) => p));
  results.forEach((res, i) => {
    if (res.status === 'rejected') showError(jobs[i][0], res.reason);
  });
  document.body.dataset.loadMs = String(Math.round(performance.now() - started));
  document.body.dataset.ready = 'true';
}

function setRange(r: Range): void {
  current = r;
  const hash = `#${rangeQuery(r)}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
  void loadAll();
}

function init(): void {
  $('range').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = $<HTMLInputElement>('from').value;
    const to = $<HTMLInputElement>('to').value;
    if (!from || !to) return;
    setRange(from <= to ? { from, to } : { from: to, to: from });
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('.presets button')) {
    b.addEventListener('click', () => setRange(lastDays(Number(b.dataset.days))));
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('#breakdown-tabs button')) {
    b.addEventListener('click', () => {
      breakdownBy = b.dataset.by ?? 'model';
      loadBreakdown(current).catch((e) => showError('the breakdown', e));
    });
  }
  window.addEventListener('hashchange', () => {
    const r = rangeFromHash();
    if (r.from !== current.from || r.to !== current.to) {
      current = r;
      void loadAll();
    }
  });
  $('advise-run').addEventListener('click', () => {
    document.body.dataset.advised = 'false';
    loadAdvise(current)
      .catch((e) => showError('the advice', e))
      .finally(() => (document.body.dataset.advised = 'true'));
  });
  $('request-close').addEventListener('click', () => $<HTMLDialogElement>('request-dialog').close());
  $('live-toggle').addEventListener('click', () => {
    livePaused = !livePaused;
    $('live-toggle').textContent = livePaused ? 'Resume' : 'Pause';
  });
  // Budgets move with every request: refresh them with the live feed.
  window.setInterval(() => {
    if (!livePaused) loadBudgets().catch(() => undefined);
  }, 10_000);
  void loadAll();
  void pollLive();
}

declare global {
  interface Window {
    tollgateDashboard: { formatUsd: typeof formatUsd; formatInt: typeof formatInt; chart: () => Chart<'bar'> | null; adviseChart: () => Chart<'line'> | null; liveTimer: () => number | undefined };
  }
}
window.tollgateDashboard = { formatUsd, formatInt, chart: () => dailyChart, adviseChart: () => adviseChart, liveTimer: () => liveTimer };

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
