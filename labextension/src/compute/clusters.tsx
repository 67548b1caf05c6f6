import * as React from 'react';

import { IComputeEventRecord } from '../api/jobTypes';
import { formatBytes } from './compute';
import { ComputeModel, IClusterView } from './computeModel';

/**
 * The clusters section of the Compute tab: each training or attached
 * cluster with its state, nodes now / min / max, busy nodes, the jobs
 * queued for it, its recent node events with their reasons (Dask's
 * adaptive scaling: "0 -> 2 nodes: work waiting"), version warnings, and a
 * "Dashboard" link while it has a Dask dashboard.
 *
 * Who calls what: `ComputeView` renders it from `ComputeModel.clusters`
 * (polled with the instances); nothing here fetches. Clusters are defined
 * from Python or the CLI (`ws.compute.create_cluster`, `jupyter mlws compute
 * cluster create`), so the section only shows them. The dashboard link goes
 * through the server's authenticated proxy route, never to the dashboard's
 * own port. Everything renders as text.
 */

const EVENT_LABELS: Record<string, string> = {
  node_added: 'node added',
  node_removed: 'node removed',
  scaled: 'scaled',
  cluster_started: 'started',
  cluster_stopped: 'stopped'
};

/** "1 CPU · 2 GiB · 0 GPUs per node"; a node without limits reads "whole machine". */
function nodeSize(node: Record<string, unknown>): string {
  const cpus = typeof node.cpus === 'number' ? `${node.cpus} CPU${node.cpus === 1 ? '' : 's'}` : 'all CPUs';
  const memory = typeof node.memory_bytes === 'number' ? formatBytes(node.memory_bytes) : 'no memory limit';
  const gpus = typeof node.gpus === 'number' ? node.gpus : 0;
  return `${cpus} · ${memory} · ${gpus} GPU${gpus === 1 ? '' : 's'} per node`;
}

function NodeEvent({ event }: { event: IComputeEventRecord }): JSX.Element {
  const node = typeof event.details?.node === 'string' ? ` ${event.details.node}` : '';
  return (
    <li className="jp-mlws-cluster-event">
      <time dateTime={new Date(event.time).toISOString()}>{new Date(event.time).toLocaleTimeString()}</time>{' '}
      <span className="jp-mlws-cluster-event-kind">{EVENT_LABELS[event.kind] ?? event.kind}</span>
      <span className="jp-mlws-muted">{node}</span>
      {event.reason && <div className="jp-mlws-cluster-event-reason">{event.reason}</div>}
    </li>
  );
}

function ClusterCard({ model, view }: { model: ComputeModel; view: IClusterView }): JSX.Element {
  const { cluster, queued, events } = view;
  const attached = cluster.kind === 'attached';
  return (
    <li className="jp-mlws-instance jp-mlws-cluster" aria-label={`Cluster ${cluster.name}`} data-cluster={cluster.name}>
      <div className="jp-mlws-instance-head">
        <span className="jp-mlws-instance-name">{cluster.name}</span>
        <span className="jp-mlws-badge" aria-label="Kind">
          {cluster.kind}
        </span>
        <span className={`jp-mlws-status jp-mlws-cluster-${cluster.state}`} aria-label="State">
          {cluster.state}
        </span>
      </div>
      <div className="jp-mlws-cluster-nodes">
        <span aria-label="Nodes" title="Nodes now (Dask scales between min and max)">
          {cluster.nodes} node{cluster.nodes === 1 ? '' : 's'}
          {attached ? '' : ` (min ${cluster.min_nodes}, max ${cluster.max_nodes})`}
        </span>
        <span aria-label="Busy nodes" title="Nodes running work now">
          {cluster.busy_nodes} busy
        </span>
        <span aria-label="Queued jobs" title="Jobs waiting for this cluster">
          {queued} queued
        </span>
      </div>
      <div className="jp-mlws-muted">
        {attached
          ? `Attached: ${cluster.address ?? ''} (never scaled or stopped here)`
          : `${nodeSize(cluster.node)} · idle node retires after ${cluster.idle_seconds_before_scaledown} s`}
      </div>
      {cluster.description && <div className="jp-mlws-instance-description">{cluster.description}</div>}
      {(cluster.warnings ?? []).map(warning => (
        <div key={warning} className="jp-mlws-inline-error">
          {warning}
        </div>
      ))}
      {cluster.dashboard && (
        <a
          className="jp-mlws-cluster-dashboard"
          href={model.dashboardUrl(cluster.name)}
          target="_blank"
          rel="noopener noreferrer"
          title="Dask's dashboard of this cluster, through this Jupyter server"
        >
          Dashboard
        </a>
      )}
      {events.length > 0 && (
        <ul className="jp-mlws-cluster-events" aria-label={`Node events of ${cluster.name}`}>
          {events.map(event => (
            <NodeEvent key={event.event_id} event={event} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** The clusters of the Compute tab (under the instances). */
export function ClustersSection({ model }: { model: ComputeModel }): JSX.Element {
  const clusters = model.clusters;
  return (
    <section className="jp-mlws-compute jp-mlws-clusters" aria-label="Clusters">
      <div className="jp-mlws-toolbar">
        <h3>Clusters</h3>
      </div>
      {model.clustersError !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.clustersError}</p>
        </div>
      )}
      {clusters === null ? (
        model.clustersError === null && <div className="jp-mlws-loading">Loading clusters…</div>
      ) : clusters.length === 0 ? (
        <p className="jp-mlws-muted">
          No clusters yet. Create one with <code>ws.compute.create_cluster(...)</code> or{' '}
          <code>jupyter mlws compute cluster create</code>; jobs run on them.
        </p>
      ) : (
        <ul className="jp-mlws-instance-list">
          {clusters.map(view => (
            <ClusterCard key={view.cluster.name} model={model} view={view} />
          ))}
        </ul>
      )}
    </section>
  );
}
