// The ModelRegistry widget: the registered models; an opened model's versions with aliases and lineage.
// State lives in the Python object's traits (saved with the notebook); this module only draws it and
// sends the user's alias changes as messages ({type: 'set_alias' | 'delete_alias' | 'refresh'}).
import { ensureStyles, formatSize, formatTime, h } from './chart.js';

function formatSignature(signature) {
  if (!signature || !signature.inputs) return 'none';
  return signature.inputs.map(c => `${c.name}: ${c.type}`).join(', ');
}

function render({ model, el }) {
  ensureStyles();
  const root = h('div', { class: 'mlws-w mlws-w-registry', role: 'region', 'aria-label': 'Model registry' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const error = h('div', { class: 'mlws-w-error', role: 'alert' });
  const list = h('table', { 'aria-label': 'Registered models' });
  const detail = h('div', { class: 'mlws-w-versions', role: 'region', 'aria-label': 'Versions' });
  root.append(h('div', { class: 'mlws-w-toolbar' }, h('span', { class: 'mlws-w-title' }, 'Models'), refresh),
    error, list, detail);
  el.append(root);
  refresh.addEventListener('click', () => model.send({ type: 'refresh' }));

  const open = name => { model.set('selected', name); model.save_changes(); };

  const drawModels = () => {
    const selected = model.get('selected');
    const models = model.get('models');
    root.dataset.models = String(models.length);
    if (!models.length) {
      list.replaceChildren(h('caption', { class: 'mlws-w-empty' }, 'No registered models yet.'));
      return;
    }
    list.replaceChildren(
      h('thead', {}, h('tr', {}, ['model', 'latest', 'aliases', 'description'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, models.map(m => {
        const button = h('button', { type: 'button', 'aria-pressed': m.name === selected ? 'true' : 'false' }, m.name);
        button.addEventListener('click', () => open(m.name === selected ? '' : m.name));
        const aliases = Object.entries(m.aliases).sort().map(([a, v]) => `@${a} → v${v}`).join(', ');
        return h('tr', { class: m.name === selected ? 'mlws-w-selected' : '', 'aria-label': m.name },
          h('td', {}, button), h('td', {}, m.latest_version ? `v${m.latest_version}` : '–'),
          h('td', {}, aliases || '–'), h('td', {}, m.description || ''));
      })));
  };

  const versionRow = v => {
    const chips = v.aliases.map(alias => {
      const remove = h('button', { type: 'button', 'aria-label': `Remove alias ${alias}`, title: `Remove alias ${alias}` }, '×');
      remove.addEventListener('click', () => model.send({ type: 'delete_alias', alias }));
      return h('span', { class: 'mlws-w-chip' }, `@${alias}`, remove);
    });
    const input = h('input', { type: 'text', placeholder: 'alias', 'aria-label': `Alias for version ${v.version}`, size: 10 });
    const set = h('button', { type: 'button' }, 'Set alias');
    const send = () => { if (input.value.trim()) model.send({ type: 'set_alias', alias: input.value.trim(), version: v.version }); };
    set.addEventListener('click', send);
    input.addEventListener('keydown', e => { if (e.key === 'Enter') send(); });
    // A run link: JupyterLab's ML Workspace extension opens the run in its run view (runlinks.ts).
    const lineage = v.source_run_id
      ? h('a', { href: '#', 'data-mlws-run': v.source_run_id, title: `Open run ${v.source_run_id}` }, `run ${v.source_run_id.slice(0, 8)}`)
      : (v.source_path || '–');
    return h('tr', { 'aria-label': `Version ${v.version}`, 'data-version': v.version },
      h('td', {}, `v${v.version}`),
      h('td', {}, v.flavor, v.trusted ? h('span', { class: 'mlws-w-status', title: 'may run code when loaded' }, ' trusted') : ''),
      h('td', { title: v.sha256 }, h('code', {}, v.sha256.slice(0, 12))),
      h('td', { class: 'mlws-w-num' }, formatSize(v.size_bytes || 0)),
      h('td', {}, formatSignature(v.signature)),
      h('td', {}, lineage),
      h('td', {}, formatTime(v.created_time)),
      h('td', {}, chips, h('span', { class: 'mlws-w-toolbar' }, input, set)));
  };

  const drawVersions = () => {
    const selected = model.get('selected');
    detail.hidden = !selected;
    if (!selected) { detail.replaceChildren(); return; }
    const versions = model.get('versions');
    detail.replaceChildren(
      h('div', { class: 'mlws-w-title' }, `Versions of ${selected}`),
      versions.length
        ? h('table', { 'aria-label': `Versions of ${selected}` },
          h('thead', {}, h('tr', {}, ['version', 'flavor', 'sha256', 'size', 'signature', 'lineage', 'registered', 'aliases']
            .map(c => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, versions.map(versionRow)))
        : h('div', { class: 'mlws-w-empty' }, 'No versions.'));
  };

  const drawError = () => {
    error.textContent = model.get('error');
    error.hidden = !model.get('error');
  };

  drawModels(); drawVersions(); drawError();
  model.on('change:models', drawModels);
  model.on('change:selected', () => { drawModels(); drawVersions(); });
  model.on('change:versions', drawVersions);
  model.on('change:error', drawError);
}

export default { render };
