// The RunDetails widget: header (name, status, duration), params, charts by metric, logs, artifacts, snapshot.
import { Chart, bindControls, h, formatDuration, formatNumber, formatSize, formatTime, settingsOf } from './chart.js';

function keyValueTable(caption, entries, numeric = false) {
  if (!entries.length) return h('div', { class: 'mlws-w-empty' }, `No ${caption.toLowerCase()}.`);
  return h('table', { 'aria-label': caption },
    h('tbody', {}, entries.map(([k, v]) => h('tr', { 'aria-label': k },
      h('th', { scope: 'row' }, k),
      h('td', { class: numeric ? 'mlws-w-num' : '' }, numeric ? formatNumber(v) : String(v))))));
}

function filesTable(caption, rows) {
  if (!rows.length) return h('div', { class: 'mlws-w-empty' }, `No ${caption.toLowerCase()}.`);
  return h('table', { 'aria-label': caption },
    h('thead', {}, h('tr', {}, h('th', {}, 'path'), h('th', {}, 'size'))),
    h('tbody', {}, rows.map(r => h('tr', {}, h('td', {}, r.path), h('td', { class: 'mlws-w-num' }, formatSize(r.size))))));
}

function section(title, open = true) {
  const body = h('div', {});
  const node = h('details', { open }, h('summary', {}, title), body);
  return { node, body };
}

function render({ model, el }) {
  const root = h('div', { class: 'mlws-w mlws-w-details', role: 'region' });
  const heading = h('h3', {});
  const status = h('span', { class: 'mlws-w-status', role: 'status' });
  const duration = h('span', { class: 'mlws-w-duration' });
  const meta = h('span', { class: 'mlws-w-note' });
  const reason = h('div', { class: 'mlws-w-error' });
  root.append(h('div', { class: 'mlws-w-header' }, heading, status, duration, meta), reason);

  const params = section('Parameters');
  const metrics = section('Metrics');
  const picker = h('select', { 'aria-label': 'Metric' });
  const plotHost = h('div', { class: 'mlws-w-plot' });
  const controlsHost = h('div', {});
  metrics.body.append(h('div', { class: 'mlws-w-toolbar' }, picker), controlsHost, plotHost);
  const logs = section('Log (last 200 lines)');
  const pre = h('pre', { class: 'mlws-w-logs', 'aria-label': 'Log' });
  logs.body.append(pre);
  const artifacts = section('Artifacts', false);
  const snapshot = section('Code snapshot', false);
  root.append(params.node, metrics.node, logs.node, artifacts.node, snapshot.node);
  el.append(root);
  const chart = new Chart(plotHost, { height: 220 });

  const tickDuration = () => {
    const start = model.get('start_time');
    const end = model.get('end_time');
    const running = !end && (model.get('status') === 'running');
    duration.textContent = start ? formatDuration((end || Date.now()) - start) + (running ? ' so far' : '') : '';
  };

  const drawHeader = () => {
    heading.textContent = model.get('name');
    root.setAttribute('aria-label', `Run ${model.get('name')}`);
    status.textContent = model.get('status');
    status.dataset.status = model.get('status');
    root.dataset.status = model.get('status');
    meta.textContent = `${model.get('experiment')} · started ${formatTime(model.get('start_time'))} · ${model.get('run_id')}`;
    const problems = [model.get('status_reason'), model.get('error')].filter(Boolean);
    reason.textContent = problems.join('\n');
    reason.hidden = !problems.length;
    tickDuration();
  };

  const drawParams = () => {
    params.body.replaceChildren(
      keyValueTable('Parameters', Object.entries(model.get('params')).sort()),
      Object.keys(model.get('tags')).length ? keyValueTable('Tags', Object.entries(model.get('tags')).sort()) : '');
  };

  const drawChart = () => {
    const series = model.get('series') || [];
    const keys = series.map(s => s.key);
    const chosen = keys.includes(picker.value) ? picker.value : (keys.includes('loss') ? 'loss' : keys[0]);
    if ([...picker.options].map(o => o.value).join('\n') !== keys.join('\n')) {
      picker.replaceChildren(...keys.map(k => h('option', { value: k }, k)));
    }
    picker.hidden = keys.length < 2;
    if (chosen !== undefined) picker.value = chosen;
    const settings = settingsOf(model);
    chart.update(series.filter(s => s.key === chosen), settings.x, { smoothing: settings.smoothing, logY: settings.logY });
    root.dataset.points = plotHost.dataset.points;
  };
  picker.addEventListener('change', drawChart);
  const controls = bindControls(controlsHost, model, () => drawChart());

  const drawLogs = () => {
    const text = model.get('logs');
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = text || 'No output captured.';
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  const drawFiles = () => {
    artifacts.body.replaceChildren(filesTable('Artifacts', model.get('artifacts')));
    snapshot.body.replaceChildren(filesTable('Snapshot files', model.get('snapshot')));
  };

  drawHeader(); drawParams(); drawChart(); drawLogs(); drawFiles();
  for (const name of ['name', 'status', 'status_reason', 'error', 'start_time', 'end_time', 'experiment']) model.on(`change:${name}`, drawHeader);
  model.on('change:params', drawParams);
  model.on('change:tags', drawParams);
  model.on('change:series', drawChart);
  model.on('change:logs', drawLogs);
  model.on('change:artifacts', drawFiles);
  model.on('change:snapshot', drawFiles);
  const timer = setInterval(tickDuration, 1000);
  return () => { clearInterval(timer); controls.destroy(); chart.destroy(); };
}

export default { render };
