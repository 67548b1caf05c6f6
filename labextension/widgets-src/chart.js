// What the widgets share: the chart (the panel's own), its controls, and small DOM and format helpers.
import uplotCss from 'uplot/dist/uPlot.min.css';
import widgetCss from './widgets.css';

// The drawing is the panel's own chart component (labextension/src/common/chartCore.ts), bundled in
// by esbuild, so a notebook widget and the panel show the same chart with the same options.
import { ChartControls, ChartView } from '../src/common/chartCore';
import { groupLines } from '../src/common/chartMath';
import { runColour } from '../src/common/runColours';
import chartCss from '../style/charts.css';

// Adds the stylesheets once per document (uPlot's, the chart's and ours, which use the --jp-* variables).
export function ensureStyles() {
  if (document.getElementById('mlws-widget-styles')) return;
  const style = document.createElement('style');
  style.id = 'mlws-widget-styles';
  style.textContent = uplotCss + '\n' + chartCss + '\n' + widgetCss;
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

// The model's chart options as the chart's settings ("time" was wall_time's earlier name).
export function settingsOf(model) {
  const x = model.get('x');
  return {
    x: x === 'time' ? 'wall_time' : x || 'step',
    smoothing: Number(model.get('smoothing') || 0),
    logY: !!model.get('log_y')
  };
}

// The view-wide controls (smoothing, x axis, log y, group by) bound to the widget's traits.
export function bindControls(host, model, onChange, { group = false } = {}) {
  const controls = new ChartControls(host, {
    settings: settingsOf(model),
    onChange: s => {
      model.set('x', s.x);
      model.set('smoothing', s.smoothing);
      model.set('log_y', s.logY);
      model.save_changes();
      onChange();
    },
    group: group ? {
      keys: model.get('group_keys') || [],
      value: model.get('group_by') || null,
      onChange: key => { model.set('group_by', key); model.save_changes(); }
    } : undefined
  });
  const show = () => {
    controls.setSettings(settingsOf(model));
    if (group) controls.setGroupKeys(model.get('group_keys') || [], model.get('group_by') || null);
  };
  for (const name of ['x', 'smoothing', 'log_y', 'group_by', 'group_keys']) model.on(`change:${name}`, () => { show(); onChange(); });
  return controls;
}

// Widget series [{run, run_name, key, x, y, total, group}] as chart lines; grouped when asked.
function linesOf(series, groupBy) {
  const runs = [...new Set(series.map(s => s.run))];
  const keys = [...new Set(series.map(s => s.key))];
  const multiRun = runs.length > 1;
  const multiKey = keys.length > 1;
  const lines = series.map((s, i) => ({
    id: `${s.run}/${s.key}`,
    label: label(s, multiRun, multiKey),
    colour: runColour(multiRun ? runs.indexOf(s.run) + (multiKey ? keys.indexOf(s.key) * runs.length : 0) : i),
    x: s.x,
    y: s.y,
    total: s.total,
    group: s.group
  }));
  if (!groupBy) return lines;
  const byKey = keys.flatMap(key => {
    const mine = lines.filter((l, i) => series[i].key === key);
    const grouped = groupLines(mine, l => l.group || '(none)', (_g, i) => runColour(i), 'minmax');
    return multiKey ? grouped.map(g => ({ ...g, id: `${g.id}/${key}`, label: `${g.label} · ${key}` })) : grouped;
  });
  return byKey;
}

// A chart in `host`: update(series, xMode, options) redraws in place.
export class Chart {
  constructor(host, { height = 260, onZoom = null, title = '' } = {}) {
    ensureStyles();
    this.host = host;
    this.onZoom = onZoom; // (x0, x1) after a drag; (null, null) when the user zooms out
    this.lastSeries = [];
    this.view = new ChartView(host, {
      title,
      height,
      onZoom: w => {
        if (w) this.host.dataset.zoomed = 'true';
        else delete this.host.dataset.zoomed;
        if (!this.onZoom) return;
        if (w) this.onZoom(w[0], w[1]);
        else {
          this.onZoom(null, null);
          this.update(this.lastSeries, this.lastX, this.lastOptions);
        }
      }
    });
  }

  get zoomed() {
    return this.view.zoomWindow !== null;
  }

  update(series, xMode, options = {}) {
    this.lastSeries = series;
    this.lastX = xMode;
    this.lastOptions = options;
    const points = series.reduce((n, s) => n + (s.y ? s.y.length : 0), 0);
    this.host.dataset.points = String(points);
    this.host.dataset.series = String(series.length);
    const settings = {
      x: xMode === 'time' ? 'wall_time' : xMode || 'step',
      smoothing: Number(options.smoothing || 0),
      logY: !!options.logY
    };
    this.view.setSettings(settings);
    if (this.zoomed) return; // the zoomed window's detail stays until the user zooms out
    this.view.setLines(linesOf(series.filter(s => s.x && s.x.length), options.groupBy || null));
  }

  // Replaces the zoomed view's points with the window's detail read from the store.
  showWindow(win) {
    if (!win || !this.zoomed) return;
    this.view.setLines(linesOf(win.series.filter(s => s.x && s.x.length), this.lastOptions.groupBy || null));
    this.host.dataset.windowPoints = String(win.series.reduce((n, s) => n + s.y.length, 0));
  }

  destroy() {
    this.view.destroy();
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
