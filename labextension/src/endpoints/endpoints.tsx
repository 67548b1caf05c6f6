import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { IEndpoint, IEndpointKeys, KeyName } from '../api/registryTypes';
import { BatchEndpointsList } from './batchEndpoints';
import { EndpointLogs } from './endpointsLogs';
import { EndpointsTabModel, scoringUrl } from './endpointsModel';
import { TryIt } from './endpointsTry';
import { message } from '../common/polling';

/**
 * The Endpoints tab of the ML Workspace panel: a "Deploy" form, and per
 * endpoint its state, replicas, scoring URL, deployments with their traffic,
 * request count and latency percentiles, key regeneration (the new key is
 * shown once, with a Copy button), the Try it box (endpointsTry.tsx) and
 * the replicas' recent log lines (endpointsLogs.tsx); then the batch
 * endpoints (batchEndpoints.tsx).
 *
 * Who calls what: `WorkspacePanel` renders `EndpointsView` inside a
 * `UseSignal` on `EndpointsTabModel.changed`; the model polls while the tab
 * is shown. Everything renders as text.
 */

/** "0.42 ms", "12 ms", or "—" before any request. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '—';
  }
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

function DeployForm({ model, onDone }: { model: EndpointsTabModel; onDone: () => void }): JSX.Element {
  const [name, setName] = React.useState('');
  const [reference, setReference] = React.useState('');
  const [replicas, setReplicas] = React.useState('1');
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    const count = Number(replicas);
    if (!Number.isInteger(count) || count < 1) {
      setError(`Replicas must be a whole number of at least 1, not "${replicas}".`);
      return;
    }
    setBusy(true);
    try {
      await model.deploy({ name: name.trim(), model: reference.trim(), replicas: count });
      onDone();
    } catch (reason) {
      setError(message(reason));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="jp-mlws-compute-form" aria-label="Deploy a model" onSubmit={e => void submit(e)}>
      <h4>Deploy a model</h4>
      <label>
        Endpoint name
        <input className="jp-mod-styled" value={name} onChange={e => setName(e.target.value)} placeholder="churn-api" />
      </label>
      <label>
        Model
        <input
          className="jp-mod-styled"
          value={reference}
          onChange={e => setReference(e.target.value)}
          placeholder="churn@production or churn:3"
        />
      </label>
      <label>
        Replicas
        <input className="jp-mod-styled" value={replicas} onChange={e => setReplicas(e.target.value)} />
      </label>
      {error && (
        <div className="jp-mlws-inline-error" role="alert">
          {error}
        </div>
      )}
      <div className="jp-mlws-form-buttons">
        <button className="jp-mod-styled jp-mod-accept" type="submit" disabled={busy}>
          {busy ? 'Deploying…' : 'Deploy'}
        </button>
        <button className="jp-mod-styled jp-mod-reject" type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function copy(text: string): void {
  void navigator.clipboard?.writeText(text).catch(() => undefined);
}

/** Keys just made: shown this once (the server keeps only their hashes). */
function ShownKeys({ model, name, keys }: { model: EndpointsTabModel; name: string; keys: IEndpointKeys }): JSX.Element {
  const entries = (['primary', 'secondary'] as KeyName[]).filter(k => keys[k]);
  return (
    <div className="jp-mlws-keys" role="region" aria-label={`New keys of ${name}`}>
      <p>Copy now: this key is not shown again.</p>
      {entries.map(which => (
        <div className="jp-mlws-key" key={which}>
          <span className="jp-mlws-muted">{which}</span>
          <code aria-label={`${which} key`}>{keys[which]}</code>
          <button className="jp-mod-styled jp-mlws-small" onClick={() => copy(keys[which] ?? '')}>
            Copy
          </button>
        </div>
      ))}
      <button className="jp-mod-styled jp-mlws-small" onClick={() => model.dismissKeys(name)}>
        Done
      </button>
    </div>
  );
}

async function confirmDelete(model: EndpointsTabModel, name: string): Promise<void> {
  const answer = await showDialog({
    title: `Delete ${name}?`,
    body: 'Its replicas stop and its keys stop working. The registered models stay.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (answer.button.accept) {
    await model.remove(name);
  }
}

function EndpointCard({ model, endpoint }: { model: EndpointsTabModel; endpoint: IEndpoint }): JSX.Element {
  const url = scoringUrl(endpoint);
  const stats = endpoint.stats ?? {};
  const keys = model.shownKeys.get(endpoint.name);
  const error = model.itemErrors.get(endpoint.name);
  return (
    <li className="jp-mlws-instance" aria-label={`Endpoint ${endpoint.name}`} data-endpoint={endpoint.name}>
      <div className="jp-mlws-instance-head">
        <span className="jp-mlws-instance-name">{endpoint.name}</span>
        <span className={`jp-mlws-endpoint-state jp-mlws-endpoint-${endpoint.state}`} aria-label="State">
          {endpoint.state}
        </span>
        <button
          className="jp-mod-styled jp-mlws-small"
          onClick={() => void confirmDelete(model, endpoint.name)}
          aria-label={`Delete ${endpoint.name}`}
        >
          Delete
        </button>
      </div>
      {endpoint.state_reason && <div className="jp-mlws-inline-error">{endpoint.state_reason}</div>}
      <div className="jp-mlws-endpoint-url" aria-label="Scoring URL">
        {url ? <code>{url}</code> : <span className="jp-mlws-muted">no port yet</span>} ·{' '}
        {endpoint.replicas} replica{endpoint.replicas === 1 ? '' : 's'}
      </div>
      <ul className="jp-mlws-deployments" aria-label={`Deployments of ${endpoint.name}`}>
        {endpoint.deployments.map(d => (
          <li key={d.name}>
            <span className="jp-mlws-deployment-name">{d.name}</span> <code>{d.model}</code> → v{d.version} ·{' '}
            {d.traffic}%
          </li>
        ))}
      </ul>
      <div className="jp-mlws-kernel-usage">
        <span aria-label="Requests" title="Requests answered (all replicas)">
          {stats.requests ?? 0} request{stats.requests === 1 ? '' : 's'}
        </span>
        <span aria-label="Errors">{stats.errors ?? 0} errors</span>
        <span aria-label="Latency" title="Latency percentiles inside the replicas">
          p50 {formatMs(stats.p50_ms)} · p99 {formatMs(stats.p99_ms)}
        </span>
      </div>
      <div className="jp-mlws-instance-actions">
        {(['primary', 'secondary'] as KeyName[]).map(which => (
          <button
            key={which}
            className="jp-mod-styled jp-mlws-small"
            onClick={() => void model.regenerate(endpoint.name, which)}
            title={`A new ${which} key; the old one stops working`}
          >
            Regenerate {which} key
          </button>
        ))}
      </div>
      {keys && <ShownKeys model={model} name={endpoint.name} keys={keys} />}
      {error && (
        <div className="jp-mlws-error" role="alert">
          <p>{error}</p>
        </div>
      )}
      <TryIt model={model} endpoint={endpoint} signature={model.signatureOf(endpoint)} />
      <EndpointLogs model={model} name={endpoint.name} />
    </li>
  );
}

/** The Endpoints tab's content. */
export function EndpointsView({ model }: { model: EndpointsTabModel }): JSX.Element {
  const [form, setForm] = React.useState(false);
  const endpoints = model.endpoints;
  return (
    <section className="jp-mlws-compute" aria-label="Endpoints">
      <div className="jp-mlws-toolbar">
        <h3>Endpoints</h3>
        {!form && (
          <button className="jp-mod-styled jp-mod-accept" onClick={() => setForm(true)}>
            Deploy
          </button>
        )}
      </div>
      {form && <DeployForm model={model} onDone={() => setForm(false)} />}
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      {endpoints === null ? (
        <div className="jp-mlws-loading">Loading endpoints…</div>
      ) : endpoints.length === 0 ? (
        <p className="jp-mlws-muted">
          No endpoints yet. An endpoint serves a registered model (<code>name@alias</code> or{' '}
          <code>name:version</code>) over HTTP on this machine, with keys.
        </p>
      ) : (
        <ul className="jp-mlws-instance-list">
          {endpoints.map(e => (
            <EndpointCard key={e.name} model={model} endpoint={e} />
          ))}
        </ul>
      )}
      <BatchEndpointsList endpoints={model.batchEndpoints} />
    </section>
  );
}
