// The uPlot chart the three widgets share: series [{run, run_name, key, x, y, total}] on one canvas.
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';
import widgetCss from './widgets.css';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
// Tick spacings for steps: whole numbers only (1, 2, 5, 10, 20, 50, ...).
const STEP_INCREMENTS = Array.from({ length: 16 }, (_, e) => [1, 2, 5].map(m => m * 10 ** e)).flat();

// Adds the stylesheets once per document (uPlot's and ours, which uses the --jp-* variables).
export function ensureStyles() {
  if (document.getElementById('mlws-widget-styles')) return;
  const style = document.createElement('style');
  style.id = 'mlws-widget-styles';
  style.textContent = uplotCss + '\n' + widgetCss;
  document.head.appendChild(style);
}

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function cssVar(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

export function formatNumber(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}

function label(s, multiRun, multiKey) {
  if (multiRun && multiKey) return `${s.run_name} · ${s.key}`;
  if (multiRun) return s.run_name;
  return s.key;
}

// A chart in `host`; update(series, xMode) redraws, keeping the canvas when the series are the same.
export class Chart {
  constructor(host, { height = 260, onZoom = null } = {}) {
    ensureStyles();
    this.host = host;
    this.height = height;
    this.onZoom = onZoom; // (x0, x1) after a drag; (null, null) when the user zooms out
    this.zoomed = false;
    this.lastSeries = [];
    this.lastX = 'step';
    this.plot = null;
    this.signature = '';
    this.empty = h('div', { class: 'mlws-w-empty' }, 'No points yet.');
    this.host.append(this.empty);
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
    });
    this.resize.observe(this.host);
    // JupyterLab marks its theme on the body; the canvas keeps its colours until redrawn.
    this.theme = new MutationObserver(() => {
      if (this.plot) this.plot.redraw(false);
    });
    this.theme.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  }

  width() {
    return Math.max(240, this.host.clientWidth || 600);
  }

  update(series, xMode) {
    this.lastSeries = series;
    this.lastX = xMode;
    const usable = series.filter(s => s.x && s.x.length);
    const points = series.reduce((n, s) => n + (s.y ? s.y.length : 0), 0);
    this.host.dataset.points = String(points);
    this.host.dataset.series = String(series.length);
    if (this.zoomed && this.plot) return; // the zoomed window stays until the user zooms out
    if (!usable.length) {
      this.destroyPlot();
      this.empty.hidden = false;
      return;
    }
    this.empty.hidden = true;
    const multiRun = new Set(usable.map(s => s.run)).size > 1;
    const multiKey = new Set(usable.map(s => s.key)).size > 1;
    const data = usable.length === 1 ? [usable[0].x, usable[0].y] : uPlot.join(usable.map(s => [s.x, s.y]));
    const signature = xMode + '|' + usable.map(s => s.run + '/' + s.key).join('|');
    if (this.plot && signature === this.signature) {
      this.plot.setData(data);
      return;
    }
    this.destroyPlot();
    this.signature = signature;
    // Read when uPlot draws, so a theme switch (which redraws, see the constructor) repaints the axes.
    const ink = () => cssVar(this.host, '--jp-ui-font-color1', '#333');
    const grid = () => cssVar(this.host, '--jp-border-color2', '#e0e0e0');
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: this.width(),
      height: this.height,
      scales: { x: { time: xMode === 'time' } },
      axes: [
        xMode === 'time' ? { ...axis } : { ...axis, label: 'step', incrs: STEP_INCREMENTS },
        { ...axis, size: 60 }
      ],
      series: [
        { label: xMode === 'time' ? 'time' : 'step' },
        ...usable.map((s, i) => ({
          label: label(s, multiRun, multiKey),
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          value: (_u, v) => formatNumber(v)
        }))
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
        setSelect: [u => {
          if (!this.onZoom || u.select.width < 2) return;
          const x0 = u.posToVal(u.select.left, 'x');
          const x1 = u.posToVal(u.select.left + u.select.width, 'x');
          this.zoomed = true;
          this.host.dataset.zoomed = 'true';
          this.onZoom(x0, x1);
        }]
      }
    };
    this.plot = new uPlot(opts, data, this.host);
    // uPlot zooms out on a double click; then the overview comes back (it kept growing meanwhile).
    this.plot.over.addEventListener('dblclick', () => {
      if (!this.zoomed) return;
      this.zoomed = false;
      delete this.host.dataset.zoomed;
      if (this.onZoom) this.onZoom(null, null);
      this.update(this.lastSeries, this.lastX);
    });
  }

  // Replaces the zoomed view's points with the window's detail read from the store.
  showWindow(win) {
    if (!win || !this.plot || !this.zoomed) return;
    const shown = this.lastSeries.filter(s => s.x && s.x.length).map(s => s.run + '/' + s.key);
    const byName = new Map(win.series.map(s => [s.run + '/' + s.key, s]));
    if (!shown.every(name => byName.has(name))) return;
    const tables = shown.map(name => {
      const s = byName.get(name);
      return s.x.length ? [s.x, s.y] : [[win.x0], [null]];
    });
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    this.plot.setData(data, false);
    this.plot.setScale('x', { min: win.x0, max: win.x1 });
    this.host.dataset.windowPoints = String(win.series.reduce((n, s) => n + s.y.length, 0));
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.signature = '';
  }

  destroy() {
    this.resize.disconnect();
    this.theme.disconnect();
    this.destroyPlot();
  }
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (hh) return `${hh}h ${mm}m ${ss}s`;
  if (mm) return `${mm}m ${ss}s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatTime(ms) {
  if (!ms) return '–';
  return new Date(ms).toLocaleString();
}

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}
