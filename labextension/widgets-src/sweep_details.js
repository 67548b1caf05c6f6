// The SweepDetails widget: header, trials table (best first), best so far, every trial's curve, parallel coordinates.
// The charts are the panel's own (labextension/src/runs/sweepLines.ts, sweepParallel.ts), bundled in by esbuild.
import { ensureStyles, formatNumber, h } from './chart.js';
import sweepCss from './sweep_details.css';
import { SweepLines } from '../src/runs/sweepLines';
import { ParallelChart } from '../src/runs/sweepParallel';

function addStyles() {
  ensureStyles();
  if (document.getElementById('mlws-sweep-widget-styles')) return;
  const style = document.createElement('style');
  style.id = 'mlws-sweep-widget-styles';
  style.textContent = sweepCss;
  document.head.appendChild(style);
}

function section(title, open = true) {
  const body = h('div', {});
  const node = h('details', { open }, h('summary', {}, title), body);
  return { node, body };
}

function trialName(t) {
  return t.trial === null || t.trial === undefined ? t.name : `trial ${t.trial}`;
}

function render({ model, el }) {
  addStyles();
  const root = h('div', { class: 'mlws-w mlws-w-sweep', role: 'region' });
  const heading = h('h3', {});
  const status = h('span', { class: 'mlws-w-status', role: 'status' });
  const meta = h('span', { class: 'mlws-w-note' });
  const problem = h('div', { class: 'mlws-w-error', role: 'alert' });
  const summary = h('div', { class: 'mlws-w-summary', 'aria-label': 'Sweep summary' });
  const table = h('table', { 'aria-label': 'Trials' });
  const trials = section('Trials');
  trials.body.append(h('div', { class: 'mlws-w-scroll' }, table));
  const best = section('Best so far, by trials ended');
  const bestHost = h('div', { class: 'mlws-w-plot', role: 'figure', 'aria-label': 'Best so far' });
  best.body.append(bestHost);
  const curves = section('Objective of every trial by step (dashed grey ✕: stopped early)');
  const curvesHost = h('div', { class: 'mlws-w-plot', role: 'figure', 'aria-label': 'Objective by step' });
  curves.body.append(curvesHost);
  const parallel = section('Parameters → objective (blue: better, orange: worse; dashed grey: stopped early)');
  const parallelHost = h('div', { class: 'mlws-w-parallel', role: 'figure', 'aria-label': 'Parallel coordinates' });
  parallel.body.append(parallelHost);
  root.append(h('div', { class: 'mlws-w-header' }, heading, status, meta), problem, summary,
    trials.node, best.node, curves.node, parallel.node);
  el.append(root);
  const bestChart = new SweepLines(bestHost, { xLabel: 'trials ended', height: 160, points: true, stepped: true });
  const curvesChart = new SweepLines(curvesHost, { xLabel: 'step', height: 240 });
  const parallelChart = new ParallelChart(parallelHost, 240);

  const drawHeader = () => {
    const name = model.get('name');
    heading.textContent = name;
    root.setAttribute('aria-label', `Sweep ${name}`);
    status.textContent = model.get('status');
    status.dataset.status = model.get('status');
    root.dataset.status = model.get('status');
    meta.textContent = `${model.get('experiment')} · ${model.get('run_id')}` + (model.get('live') ? ' · live' : '');
    const problems = [model.get('status_reason'), model.get('error')].filter(Boolean);
    problem.textContent = problems.join('\n');
    problem.hidden = !problems.length;
    const rows = model.get('trials');
    const max = model.get('max_trials');
    const parts = [`${rows.length}${max ? ` of ${max}` : ''} trials`, `${model.get('objective')} (${model.get('goal')})`];
    if (model.get('sampling')) parts.push(`${model.get('sampling')} sampling`);
    const stopped = rows.filter(r => r.stopped).length;
    if (stopped) parts.push(`${stopped} stopped early`);
    const top = rows.find(r => r.run_id === model.get('best_run_id'));
    if (model.get('best_value') !== null && model.get('best_value') !== undefined) {
      parts.push(`best ${formatNumber(model.get('best_value'))}` + (top ? ` (${trialName(top)})` : ''));
    }
    summary.textContent = parts.join(' · ');
  };

  const drawTable = () => {
    const names = Object.keys(model.get('space'));
    const objective = model.get('objective');
    const bestId = model.get('best_run_id');
    const rows = model.get('trials');
    const head = h('tr', {}, h('th', {}, 'trial'), h('th', {}, 'status'), h('th', {}, objective),
      names.map(n => h('th', {}, n)), h('th', {}, 'reason'));
    const body = rows.map(r => h('tr', {
      'aria-label': `Trial ${r.trial ?? r.name}`,
      'data-run': r.run_id,
      class: r.run_id === bestId ? 'mlws-w-best' : (r.stopped ? 'mlws-w-stopped' : '')
    },
    h('th', { scope: 'row', title: `${r.name} (${r.run_id})` }, String(r.trial ?? r.name),
      r.run_id === bestId ? h('span', { class: 'mlws-w-star' }, ' ★ best') : ''),
    h('td', {}, h('span', { class: 'mlws-w-status', 'data-status': r.status }, r.stopped ? '✕ stopped' : r.status)),
    h('td', { class: 'mlws-w-num' }, formatNumber(r.value)),
    names.map(n => h('td', {}, r.params[n] ?? '–')),
    h('td', { class: 'mlws-w-reason' }, r.reason || '')));
    table.replaceChildren(h('thead', {}, head), h('tbody', {}, body.length ? body
      : [h('tr', {}, h('td', { colspan: names.length + 4, class: 'mlws-w-empty' }, 'No trials yet.'))]));
    root.dataset.trials = String(rows.length);
  };

  const drawCharts = () => {
    const objective = model.get('objective');
    const series = model.get('best_series') || {};
    bestChart.update([{ label: `best ${objective}`, x: series.x || [], y: series.y || [] }]);
    const bestId = model.get('best_run_id');
    curvesChart.update((model.get('curves') || []).map(c => ({
      label: c.trial === null || c.trial === undefined ? c.run_id.slice(0, 8) : `trial ${c.trial}`,
      x: c.x, y: c.y, stopped: c.stopped, emphasis: c.run_id === bestId
    })));
    parallelChart.update({
      space: model.get('space'), objective, goal: model.get('goal'),
      trials: model.get('trials'), bestRunId: bestId || null
    });
  };

  drawHeader(); drawTable(); drawCharts();
  for (const name of ['name', 'status', 'status_reason', 'error', 'live', 'experiment', 'best_value', 'best_run_id', 'trials']) {
    model.on(`change:${name}`, drawHeader);
  }
  for (const name of ['trials', 'best_run_id', 'space']) model.on(`change:${name}`, drawTable);
  for (const name of ['trials', 'curves', 'best_series', 'best_run_id']) model.on(`change:${name}`, drawCharts);
  return () => { bestChart.destroy(); curvesChart.destroy(); parallelChart.destroy(); };
}

export default { render };
