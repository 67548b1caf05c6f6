// The MetricChart widget: render({model, el}) draws the `series` trait and follows its changes.
import { Chart, bindControls, h, settingsOf } from './chart.js';

function render({ model, el }) {
  const root = h('div', { class: 'mlws-w mlws-w-chart', role: 'figure' });
  const title = h('div', { class: 'mlws-w-title' });
  const controlsHost = h('div', {});
  const host = h('div', { class: 'mlws-w-plot' });
  const status = h('div', { class: 'mlws-w-note', 'aria-live': 'polite' });
  root.append(title, controlsHost, host, status);
  el.append(root);
  const chart = new Chart(host, {
    onZoom: (x0, x1) => model.send({ type: 'zoom', x0, x1 })
  });
  const draw = () => {
    const series = model.get('series') || [];
    const keys = model.get('metrics') || [];
    title.textContent = model.get('title') || keys.join(', ');
    root.setAttribute('aria-label', `Chart of ${keys.join(', ')}`);
    const s = settingsOf(model);
    chart.update(series, s.x, { smoothing: s.smoothing, logY: s.logY, groupBy: model.get('group_by') });
    root.dataset.points = host.dataset.points;
    const shown = series.reduce((n, s) => n + s.y.length, 0);
    const total = series.reduce((n, s) => n + (s.total || 0), 0);
    const parts = [`${shown} of ${total} points`];
    if (model.get('live')) parts.push('live');
    if (model.get('error')) parts.push(model.get('error'));
    status.textContent = parts.join(' · ');
  };
  const controls = bindControls(controlsHost, model, () => draw(), { group: true });
  draw();
  model.on('change:series', draw);
  model.on('change:live', draw);
  model.on('change:error', draw);
  model.on('change:window', () => chart.showWindow(model.get('window')));
  return () => { controls.destroy(); chart.destroy(); };
}

export default { render };
