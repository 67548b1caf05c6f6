// The RunHistory widget: filter box, sortable paged table with selection, compare chart and param diff.
import { Chart, bindControls, h, formatDuration, formatNumber, formatTime, settingsOf } from './chart.js';

const BASE_COLUMNS = [
  { id: 'name', label: 'name', sort: 'name' },
  { id: 'status', label: 'status', sort: 'status' },
  { id: 'start_time', label: 'start', sort: 'start_time' },
  { id: 'duration_ms', label: 'duration', sort: null }
];

function cellText(row, id) {
  if (id === 'start_time') return formatTime(row.start_time);
  if (id === 'duration_ms') return row.duration_ms === null ? (row.status === 'running' ? 'running' : '–') : formatDuration(row.duration_ms);
  return row[id] ?? '';
}

function render({ model, el }) {
  const root = h('div', { class: 'mlws-w mlws-w-history', role: 'region', 'aria-label': 'Run history' });
  const filter = h('input', {
    class: 'mlws-w-filter', type: 'search', 'aria-label': 'Filter runs',
    placeholder: "filter, e.g. metrics.loss < 0.5 and params.lr = '0.01'  (Enter)"
  });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const error = h('div', { class: 'mlws-w-error', role: 'alert' });
  const table = h('table', { 'aria-label': 'Runs' });
  const prev = h('button', { type: 'button', 'aria-label': 'Previous page' }, '‹ Prev');
  const next = h('button', { type: 'button', 'aria-label': 'Next page' }, 'Next ›');
  const pageLabel = h('span', { class: 'mlws-w-note' });
  const compare = h('div', { class: 'mlws-w-compare', role: 'region', 'aria-label': 'Compare runs' });
  const metricPicker = h('select', { 'aria-label': 'Compare metric' });
  const plotHost = h('div', { class: 'mlws-w-plot' });
  const controlsHost = h('div', {});
  const diff = h('div', {});
  compare.append(h('div', { class: 'mlws-w-toolbar' }, h('span', { class: 'mlws-w-title' }, 'Compare'), metricPicker), controlsHost, plotHost, diff);
  root.append(h('div', { class: 'mlws-w-toolbar' }, filter, refresh), error, table,
    h('div', { class: 'mlws-w-toolbar' }, prev, pageLabel, next), compare);
  el.append(root);
  const chart = new Chart(plotHost, { height: 220 });

  const commit = (name, value) => { model.set(name, value); model.save_changes(); };
  filter.addEventListener('keydown', e => { if (e.key === 'Enter') commit('filter', filter.value); });
  filter.addEventListener('search', () => { if (!filter.value) commit('filter', ''); });
  refresh.addEventListener('click', () => model.send({ type: 'refresh' }));
  prev.addEventListener('click', () => commit('page', Math.max(0, model.get('page') - 1)));
  next.addEventListener('click', () => commit('page', model.get('page') + 1));
  metricPicker.addEventListener('change', () => commit('compare_metric', metricPicker.value));

  const currentSort = () => {
    const first = (model.get('order_by') || [])[0] || '';
    const [field, dir] = first.split(/\s+/);
    return { field, desc: (dir || '').toLowerCase() === 'desc' };
  };

  const drawTable = () => {
    const columns = [...BASE_COLUMNS, ...model.get('columns').map(c => ({ id: c, label: c, sort: c, value: true }))];
    const sort = currentSort();
    const selected = new Set(model.get('selected'));
    const head = h('tr', {}, h('th', {}, ''), columns.map(c => {
      const sorted = c.sort && sort.field === c.sort;
      const th = h('th', {
        scope: 'col', class: c.sort ? 'mlws-w-sortable' : '',
        'aria-sort': sorted ? (sort.desc ? 'descending' : 'ascending') : undefined,
        title: c.sort ? 'Sort by this column' : undefined
      }, c.label, sorted ? (sort.desc ? ' ▼' : ' ▲') : '');
      if (c.sort) th.addEventListener('click', () => {
        const desc = sorted ? !sort.desc : false;
        commit('order_by', [`${c.sort} ${desc ? 'desc' : 'asc'}`]);
      });
      return th;
    }));
    const body = model.get('rows').map(row => {
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${row.name}`, checked: selected.has(row.run_id) });
      box.addEventListener('change', () => {
        const now = model.get('selected').filter(id => id !== row.run_id);
        if (box.checked) now.push(row.run_id);
        commit('selected', now);
      });
      return h('tr', { class: selected.has(row.run_id) ? 'mlws-w-selected' : '', 'data-run': row.run_id, 'aria-label': row.name },
        h('td', {}, box),
        columns.map(c => c.value
          ? h('td', { class: c.id.startsWith('metrics.') ? 'mlws-w-num' : '' }, formatNumber(row.values[c.id]))
          : h('td', {}, String(cellText(row, c.id)))));
    });
    table.replaceChildren(h('thead', {}, head), h('tbody', {}, body));
    root.dataset.rows = String(model.get('rows').length);
    prev.disabled = model.get('page') === 0;
    next.disabled = !model.get('has_next');
    pageLabel.textContent = `page ${model.get('page') + 1}` + (model.get('rows').length ? '' : ' · no runs');
  };

  const drawError = () => {
    error.textContent = model.get('error');
    error.hidden = !model.get('error');
  };

  const drawCompare = () => {
    const runs = model.get('compare_runs');
    compare.hidden = runs.length < 2;
    const keys = model.get('compare_metrics');
    metricPicker.replaceChildren(...keys.map(k => h('option', { value: k }, k)));
    metricPicker.value = model.get('compare_metric');
    const settings = settingsOf(model);
    chart.update(model.get('compare_series'), settings.x,
      { smoothing: settings.smoothing, logY: settings.logY, groupBy: model.get('group_by') });
    const rows = model.get('param_diff');
    diff.replaceChildren(rows.length
      ? h('table', { 'aria-label': 'Parameter differences' },
        h('thead', {}, h('tr', {}, h('th', {}, 'param'), runs.map(r => h('th', {}, r.name)))),
        h('tbody', {}, rows.map(d => h('tr', { 'aria-label': d.param }, h('th', { scope: 'row' }, d.param),
          d.values.map(v => h('td', {}, v === null ? '–' : String(v)))))))
      : h('div', { class: 'mlws-w-empty' }, runs.length >= 2 ? 'The selected runs have the same params.' : ''));
  };

  const controls = bindControls(controlsHost, model, () => drawCompare(), { group: true });
  filter.value = model.get('filter');
  drawTable(); drawError(); drawCompare();
  model.on('change:filter', () => { if (document.activeElement !== filter) filter.value = model.get('filter'); });
  for (const name of ['rows', 'columns', 'order_by', 'page', 'has_next', 'selected']) model.on(`change:${name}`, drawTable);
  model.on('change:error', drawError);
  for (const name of ['compare_runs', 'compare_series', 'compare_metrics', 'compare_metric', 'param_diff']) model.on(`change:${name}`, drawCompare);
  return () => { controls.destroy(); chart.destroy(); };
}

export default { render };
