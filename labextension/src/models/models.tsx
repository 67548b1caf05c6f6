import * as React from 'react';

import { IModelVersion, IRegisteredModel, ISignature } from '../api/registryTypes';
import { formatBytes } from '../compute/compute';
import { ModelsTabModel } from './modelsModel';

/**
 * The Models tab of the ML Workspace panel: the registered models with
 * their aliases; a model opens into its versions (flavor, sha256, size,
 * signature, trust, aliases as chips that can be set, moved and removed,
 * and the lineage: the source run opens in the run view, where its code
 * snapshot is; its experiment opens in the Experiments tab).
 *
 * Who calls what: `WorkspacePanel` renders `ModelsView` inside a
 * `UseSignal` on `ModelsTabModel.changed`; the model polls while the tab is
 * shown. Everything renders as text: names, descriptions, tags and column
 * names are user input, never HTML.
 */

/** The first 12 hex digits of a sha256: enough to tell versions apart at a glance. */
export function shortSha(sha: string): string {
  return sha.slice(0, 12);
}

/** "a: double, b: long" (outputs after " → " when known). */
export function formatSignature(signature: ISignature | null | undefined): string {
  if (!signature || !signature.inputs) {
    return 'none';
  }
  const columns = (cols: { name: string; type: string }[]): string => cols.map(c => `${c.name}: ${c.type}`).join(', ');
  const outputs = signature.outputs && signature.outputs.length ? ` → ${columns(signature.outputs)}` : '';
  return `${columns(signature.inputs)}${outputs}`;
}

/** Flavors whose loading runs the model's own code: they load only when trusted. */
const CODE_FLAVORS = ['pickle', 'python'];

function TrustBadge({ version }: { version: IModelVersion }): JSX.Element | null {
  if (version.trusted) {
    return (
      <span
        className="jp-mlws-badge jp-mlws-badge-trusted"
        title="Registered as trusted: formats that run code (pickle, the python flavor) may be loaded."
      >
        trusted
      </span>
    );
  }
  if (CODE_FLAVORS.includes(version.flavor)) {
    return (
      <span
        className="jp-mlws-badge jp-mlws-badge-untrusted"
        title="This format runs code when loaded; it loads only once the version is marked trusted."
      >
        untrusted: will not load
      </span>
    );
  }
  return null;
}

/** Where a lineage link leads: the run view, or the experiment's runs in the Experiments tab. */
export interface ILineageActions {
  onOpenRun: (runId: string) => void;
  onOpenExperiment: (experimentId: number) => void;
}

function Lineage({
  model,
  version,
  actions
}: {
  model: ModelsTabModel;
  version: IModelVersion;
  actions: ILineageActions;
}): JSX.Element {
  const runId = version.source_run_id;
  if (!runId) {
    return (
      <div className="jp-mlws-lineage">
        From file <code>{version.source_path ?? 'unknown'}</code>
      </div>
    );
  }
  const lineage = model.lineage.get(runId);
  const label = lineage ? lineage.runName : runId.slice(0, 8);
  return (
    <div className="jp-mlws-lineage">
      From run{' '}
      <button
        className="jp-mlws-link"
        onClick={() => actions.onOpenRun(runId)}
        title={`Open run ${runId}`}
        aria-label={`Open source run ${label}`}
      >
        {label}
      </button>
      {lineage?.experimentName && lineage.experimentId !== null && (
        <>
          {' '}
          in experiment{' '}
          <button
            className="jp-mlws-link"
            onClick={() => actions.onOpenExperiment(lineage.experimentId as number)}
            title="Show the experiment's runs"
          >
            {lineage.experimentName}
          </button>
        </>
      )}
      {lineage === null && <span className="jp-mlws-muted"> (the run is gone)</span>}
      {version.source_path && (
        <>
          {' · '}
          <code>{version.source_path}</code>
        </>
      )}
    </div>
  );
}

function AliasForm({ model, version }: { model: ModelsTabModel; version: IModelVersion }): JSX.Element {
  const [alias, setAlias] = React.useState('');
  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    if (alias.trim() && (await model.setAlias(version.name, version.version, alias))) {
      setAlias('');
    }
  };
  return (
    <form className="jp-mlws-alias-form" onSubmit={e => void submit(e)}>
      <input
        className="jp-mod-styled"
        value={alias}
        onChange={e => setAlias(e.target.value)}
        placeholder="alias, e.g. production"
        aria-label={`Alias for version ${version.version}`}
      />
      <button className="jp-mod-styled jp-mlws-small" type="submit" disabled={!alias.trim()}>
        Set alias
      </button>
    </form>
  );
}

function VersionItem({
  model,
  version,
  actions
}: {
  model: ModelsTabModel;
  version: IModelVersion;
  actions: ILineageActions;
}): JSX.Element {
  const error = model.itemErrors.get(`${version.name}:${version.version}`);
  return (
    <li className="jp-mlws-version" aria-label={`Version ${version.version}`} data-version={version.version}>
      <div className="jp-mlws-version-head">
        <span className="jp-mlws-version-number">v{version.version}</span>
        <span className="jp-mlws-version-flavor" aria-label="Flavor">
          {version.flavor}
        </span>
        <TrustBadge version={version} />
        <span className="jp-mlws-chips" aria-label="Aliases">
          {(version.aliases ?? []).map(alias => (
            <span className="jp-mlws-chip" key={alias}>
              @{alias}
              <button
                className="jp-mlws-chip-remove"
                onClick={() => void model.removeAlias(version.name, version.version, alias)}
                aria-label={`Remove alias ${alias}`}
                title={`Remove alias ${alias}`}
              >
                ×
              </button>
            </span>
          ))}
        </span>
      </div>
      <dl className="jp-mlws-version-facts">
        <dt>sha256</dt>
        <dd aria-label="sha256" title={version.sha256}>
          <code>{shortSha(version.sha256)}</code>
        </dd>
        <dt>size</dt>
        <dd aria-label="Size">
          {formatBytes(version.size_bytes)} · {version.files.length} file{version.files.length === 1 ? '' : 's'}
        </dd>
        <dt>signature</dt>
        <dd aria-label="Signature">{formatSignature(version.signature)}</dd>
      </dl>
      {version.description && <div className="jp-mlws-version-description">{version.description}</div>}
      <Lineage model={model} version={version} actions={actions} />
      <AliasForm model={model} version={version} />
      {error && (
        <div className="jp-mlws-inline-error" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}

function ModelItem({
  model,
  registered,
  actions
}: {
  model: ModelsTabModel;
  registered: IRegisteredModel;
  actions: ILineageActions;
}): JSX.Element {
  const open = model.isOpen(registered.name);
  const versions = model.versions.get(registered.name);
  const aliases = Object.entries(registered.aliases ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <li className="jp-mlws-model" aria-label={`Model ${registered.name}`} data-model={registered.name}>
      <button
        className="jp-mlws-model-head"
        aria-expanded={open}
        onClick={() => void model.toggle(registered.name)}
        title={open ? 'Hide the versions' : 'Show the versions'}
      >
        <span className="jp-mlws-caret">{open ? '▾' : '▸'}</span>
        <span className="jp-mlws-model-name">{registered.name}</span>
        <span className="jp-mlws-muted">
          {registered.latest_version ? `latest v${registered.latest_version}` : 'no versions'}
        </span>
      </button>
      {aliases.length > 0 && (
        <div className="jp-mlws-chips" aria-label={`Aliases of ${registered.name}`}>
          {aliases.map(([alias, version]) => (
            <span className="jp-mlws-chip" key={alias}>
              @{alias} → v{version}
            </span>
          ))}
        </div>
      )}
      {registered.description && <div className="jp-mlws-model-description">{registered.description}</div>}
      {open &&
        (versions === undefined ? (
          <div className="jp-mlws-loading">Loading versions…</div>
        ) : (
          <ul className="jp-mlws-versions" aria-label={`Versions of ${registered.name}`}>
            {versions.map(v => (
              <VersionItem key={v.version} model={model} version={v} actions={actions} />
            ))}
          </ul>
        ))}
    </li>
  );
}

/** The Models tab's content. */
export function ModelsView({ model, actions }: { model: ModelsTabModel; actions: ILineageActions }): JSX.Element {
  const models = model.models;
  return (
    <section className="jp-mlws-registry" aria-label="Registered models">
      <div className="jp-mlws-toolbar">
        <h3>Models</h3>
        <button className="jp-mod-styled jp-mlws-small" onClick={() => void model.refresh()}>
          Refresh
        </button>
      </div>
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      {models === null ? (
        <div className="jp-mlws-loading">Loading models…</div>
      ) : models.length === 0 ? (
        <p className="jp-mlws-muted">
          No registered models yet. Register one from a notebook with{' '}
          <code>ws.models.register("name", path="model.skops")</code> or from a run's artifact.
        </p>
      ) : (
        <ul className="jp-mlws-model-list">
          {models.map(m => (
            <ModelItem key={m.name} model={model} registered={m} actions={actions} />
          ))}
        </ul>
      )}
    </section>
  );
}
