import * as React from 'react';

import { IBatchEndpoint } from '../api/registryTypes';

/**
 * The batch endpoints in the Endpoints tab (issue 16): per endpoint its
 * name, the model reference (or entry script) its jobs score, the cluster
 * they run on, and the state of the job its last invoke started.
 *
 * Who calls what: `EndpointsView` (endpoints.tsx) renders it with
 * `EndpointsTabModel.batchEndpoints`, polled with the real-time endpoints.
 * Read-only on purpose: deploying, invoking and keys are Python's
 * (`ws.endpoints.deploy_batch`), the command line's and REST's (docs/batch.md).
 */
export function BatchEndpointsList({ endpoints }: { endpoints: IBatchEndpoint[] | null }): JSX.Element | null {
  if (endpoints === null) {
    return null;
  }
  return (
    <section className="jp-mlws-batch-endpoints" aria-label="Batch endpoints">
      <h4>Batch endpoints</h4>
      {endpoints.length === 0 ? (
        <p className="jp-mlws-muted">
          None yet. A batch endpoint scores data assets on a cluster when called with its key:{' '}
          <code>ws.endpoints.deploy_batch(…)</code>
        </p>
      ) : (
        <ul className="jp-mlws-instance-list">
          {endpoints.map(e => (
            <BatchEndpointItem key={e.name} endpoint={e} />
          ))}
        </ul>
      )}
    </section>
  );
}

function BatchEndpointItem({ endpoint }: { endpoint: IBatchEndpoint }): JSX.Element {
  const job = endpoint.last_job;
  return (
    <li className="jp-mlws-instance" aria-label={`Batch endpoint ${endpoint.name}`} data-batch-endpoint={endpoint.name}>
      <div className="jp-mlws-instance-head">
        <span className="jp-mlws-instance-name">{endpoint.name}</span>
        {job ? (
          <span
            className={`jp-mlws-status jp-mlws-status-${job.state}`}
            aria-label="Last job"
            title={job.state_reason ? `${job.job_id}: ${job.state_reason}` : job.job_id}
          >
            {job.state}
          </span>
        ) : (
          <span className="jp-mlws-muted" aria-label="Last job">
            no job yet
          </span>
        )}
      </div>
      <div className="jp-mlws-muted" aria-label="Scores">
        <code>{endpoint.model ?? endpoint.entry_script ?? ''}</code> on {endpoint.target} ·{' '}
        {endpoint.defaults.mini_batch_size} per mini-batch
      </div>
    </li>
  );
}
