import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IArtifactList,
  IExperimentList,
  IExperimentModel,
  IMetricHistories,
  IMetricHistory,
  IRunDiff,
  IReplayStarted,
  IRunModel,
  IRunPage,
  IWorkspaceInfo
} from './types';
import {
  IComputeEventList,
  IComputeInstance,
  IComputeInstanceBody,
  IComputeInstanceList,
  IKeepAlive,
  IKernelUsageList
} from './computeTypes';
import { IClusterList, IJob, IJobList, IJobLogs, IJobSearch } from './jobTypes';
import { IDataAssetList, IDataVersion, IDataVersionList } from './dataTypes';
import {
  IBatchEndpointList,
  IDeployBody,
  IDeployedEndpoint,
  IEndpointList,
  IEndpointLogs,
  IModelVersion,
  IModelVersionList,
  IRegeneratedKey,
  IRegisteredModelList,
  IScoreAnswer,
  KeyName
} from './registryTypes';
import { API_ROOT, jsonBody, requestJSON, requestRaw, send, withQuery } from './request';

export { API_ROOT, MLWorkspaceAPIError } from './request';

/** Query of `GET /runs`. */
export interface IRunSearch {
  experimentId?: number;
  filter?: string;
  orderBy?: string[];
  limit?: number;
  pageToken?: string | null;
}

/**
 * The one client of the front end for the server's REST API: one method per
 * resource operation. Every request goes through request.ts, which joins
 * the URL under the server's base URL, sends Jupyter's credentials (token or
 * cookie + XSRF) through `ServerConnection`, and turns error bodies
 * `{error, message}` into `MLWorkspaceAPIError`s.
 */
export class MLWorkspaceAPI {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** `GET /info`: where the workspace is and what backs it. */
  info(): Promise<IWorkspaceInfo> {
    return this.request<IWorkspaceInfo>('info');
  }

  /** `GET /runs/{run_id}`: one run; an unknown id rejects with status 404. */
  getRun(runId: string): Promise<IRunModel> {
    return this.request<IRunModel>(`runs/${encodeURIComponent(runId)}`);
  }

  /** `GET /runs/{run_id}/diff/{other_id}` */
  getRunDiff(runA: string, runB: string): Promise<IRunDiff> {
    return this.request<IRunDiff>(`runs/${encodeURIComponent(runA)}/diff/${encodeURIComponent(runB)}`);
  }

  /** `POST /runs/{run_id}/replay`: start a replay in a fresh kernel (its outcome is a child run). */
  replayRun(runId: string, options: { kernel?: string; timeout?: number } = {}): Promise<IReplayStarted> {
    return this.request<IReplayStarted>(`runs/${encodeURIComponent(runId)}/replay`, jsonBody('POST', options));
  }

  /** `GET /experiments/{experiment_id}` */
  getExperiment(experimentId: number): Promise<IExperimentModel> {
    return this.request<IExperimentModel>(`experiments/${encodeURIComponent(String(experimentId))}`);
  }

  /** `PATCH /experiments/{experiment_id}`: rename it and/or set some of its tags (the others are kept). */
  updateExperiment(
    experimentId: number,
    changes: { name?: string; tags?: Record<string, string> }
  ): Promise<IExperimentModel> {
    return this.request<IExperimentModel>(
      `experiments/${encodeURIComponent(String(experimentId))}`,
      jsonBody('PATCH', changes)
    );
  }

  /** `GET /experiments`: every experiment. */
  listExperiments(): Promise<IExperimentList> {
    return this.request<IExperimentList>('experiments');
  }

  /** `GET /runs`: one page of runs, in the order asked for. */
  searchRuns(search: IRunSearch = {}): Promise<IRunPage> {
    const query = {
      experiment_id: search.experimentId,
      filter: search.filter,
      order_by: search.orderBy,
      limit: search.limit,
      page_token: search.pageToken
    };
    return this.request<IRunPage>(withQuery('runs', query));
  }

  /**
   * `GET /runs/{id}/metrics/{key}`: a metric's history, downsampled by the
   * server to about `maxPoints` points; `since` (a cursor of an earlier answer)
   * asks only for the points stored after it; `minStep`/`maxStep` (inclusive)
   * ask for a window of steps only (the detail of a zoomed chart).
   */
  getMetricHistory(
    runId: string,
    key: string,
    options: { maxPoints?: number; since?: number; minStep?: number; maxStep?: number } = {}
  ): Promise<IMetricHistory> {
    const query = {
      max_points: options.maxPoints === undefined ? undefined : Math.max(2, Math.round(options.maxPoints)),
      since: options.since,
      min_step: options.minStep === undefined ? undefined : Math.floor(options.minStep),
      max_step: options.maxStep === undefined ? undefined : Math.ceil(options.maxStep)
    };
    const endpoint = `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}`;
    return this.request<IMetricHistory>(withQuery(endpoint, query));
  }

  /**
   * `GET /metrics/histories`: the histories of `keys` for `runIds`, each key's
   * runs on one x grid (`bins` bins, or the exact x values when fewer).
   */
  getMetricHistories(
    runIds: string[],
    keys: string[],
    options: { bins?: number; x?: string; bands?: boolean } = {}
  ): Promise<IMetricHistories> {
    const params = new URLSearchParams();
    runIds.forEach(id => params.append('run_id', id));
    keys.forEach(k => params.append('key', k));
    params.set('bins', String(Math.max(2, Math.round(options.bins ?? 400))));
    params.set('x', options.x ?? 'step');
    if (options.bands === false) {
      params.set('bands', 'false');
    }
    return this.request<IMetricHistories>(`metrics/histories?${params.toString()}`);
  }

  /** `GET /runs/{id}/artifacts`: the run's recorded files, sorted by path. */
  listArtifacts(runId: string): Promise<IArtifactList> {
    return this.request<IArtifactList>(`runs/${encodeURIComponent(runId)}/artifacts`);
  }

  /** `GET /compute/instances`: every compute instance with its running kernels. */
  listComputeInstances(): Promise<IComputeInstanceList> {
    return this.request<IComputeInstanceList>('compute/instances');
  }

  /** `POST /compute/instances`: 201 with the instance; 400 names the bad field, 409 a taken name. */
  createComputeInstance(body: IComputeInstanceBody): Promise<IComputeInstance> {
    return this.request<IComputeInstance>('compute/instances', jsonBody('POST', body));
  }

  /** `PATCH /compute/instances/{name}`: change some fields (the server rewrites the kernelspec). */
  updateComputeInstance(name: string, changes: IComputeInstanceBody): Promise<IComputeInstance> {
    return this.request<IComputeInstance>(`compute/instances/${encodeURIComponent(name)}`, jsonBody('PATCH', changes));
  }

  /** `DELETE /compute/instances/{name}`: 409 while kernels of it run. */
  async deleteComputeInstance(name: string): Promise<void> {
    await this.request<void>(`compute/instances/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** `GET /compute/kernels`: the running instance kernels with their usage. */
  listComputeKernels(): Promise<IKernelUsageList> {
    return this.request<IKernelUsageList>('compute/kernels');
  }

  /** `POST /compute/kernels/{id}/keepalive`: postpone an idle shutdown. */
  keepKernelAlive(kernelId: string): Promise<IKeepAlive> {
    return this.request<IKeepAlive>(`compute/kernels/${encodeURIComponent(kernelId)}/keepalive`, jsonBody('POST', {}));
  }

  /** `GET /compute/events`: recorded compute events, newest first. */
  listComputeEvents(options: { instance?: string; kernelId?: string; limit?: number } = {}): Promise<IComputeEventList> {
    const query = { instance: options.instance, kernel_id: options.kernelId, limit: options.limit };
    return this.request<IComputeEventList>(withQuery('compute/events', query));
  }

  /** `GET /compute/clusters`: training and attached clusters, each with its nodes now. */
  listClusters(): Promise<IClusterList> {
    return this.request<IClusterList>('compute/clusters');
  }

  /**
   * Where a cluster's Dask dashboard is shown: the server's authenticated
   * proxy route (never the dashboard's own port, which a remote browser
   * cannot reach and which has no authentication of its own).
   */
  clusterDashboardUrl(name: string): string {
    const route = `compute/clusters/${encodeURIComponent(name)}/dashboard/status`;
    return URLExt.join(this.serverSettings.baseUrl, API_ROOT, route);
  }

  /** `GET /jobs`: jobs newest first, of some states or one target. */
  listJobs(search: IJobSearch = {}): Promise<IJobList> {
    const query = { state: search.states?.join(','), target: search.target, limit: search.limit };
    return this.request<IJobList>(withQuery('jobs', query));
  }

  /** `POST /jobs/{id}/cancel`: a queued job leaves the queue, a running one is killed. */
  cancelJob(jobId: string): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(jobId)}/cancel`, jsonBody('POST', {}));
  }

  /** `GET /jobs/{id}/logs`: the job's output stored after cursor `since` (every attempt). */
  jobLogs(jobId: string, since = 0): Promise<IJobLogs> {
    return this.request<IJobLogs>(withQuery(`jobs/${encodeURIComponent(jobId)}/logs`, { since }));
  }

  /** `GET /models`: the registered models, by name. */
  listModels(): Promise<IRegisteredModelList> {
    return this.request<IRegisteredModelList>('models');
  }

  /** `GET /models/{name}/versions`: every version in full (files, signature, lineage), newest first. */
  listModelVersions(name: string): Promise<IModelVersionList> {
    return this.request<IModelVersionList>(`models/${encodeURIComponent(name)}/versions`);
  }

  /** `GET /models/{name}/versions/{version}` */
  getModelVersion(name: string, version: number): Promise<IModelVersion> {
    return this.request<IModelVersion>(`models/${encodeURIComponent(name)}/versions/${version}`);
  }

  /** `PUT /models/{name}/aliases/{alias}`: set the alias, or move it to `version`. */
  async setModelAlias(name: string, alias: string, version: number): Promise<void> {
    await this.request<unknown>(
      `models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
      jsonBody('PUT', { version })
    );
  }

  /** `DELETE /models/{name}/aliases/{alias}` */
  async deleteModelAlias(name: string, alias: string): Promise<void> {
    await this.request<void>(`models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, {
      method: 'DELETE'
    });
  }

  /** `GET /data`: the data assets, by name, each with its newest version number. */
  listDataAssets(): Promise<IDataAssetList> {
    return this.request<IDataAssetList>('data');
  }

  /** `GET /data/{name}/versions`: every version in full (files, digest, source), oldest first. */
  listDataVersions(name: string): Promise<IDataVersionList> {
    return this.request<IDataVersionList>(`data/${encodeURIComponent(name)}/versions`);
  }

  /** `GET /data/{name}/versions/{version}`; `'latest'` is the newest. */
  getDataVersion(name: string, version: number | 'latest'): Promise<IDataVersion> {
    return this.request<IDataVersion>(`data/${encodeURIComponent(name)}/versions/${version}`);
  }

  /** `GET /endpoints`: every endpoint with its deployments and stats (never key material). */
  listEndpoints(): Promise<IEndpointList> {
    return this.request<IEndpointList>('endpoints');
  }

  /** `POST /endpoints`: deploy; the 201 answer carries the two keys, this once. */
  deployEndpoint(body: IDeployBody): Promise<IDeployedEndpoint> {
    return this.request<IDeployedEndpoint>('endpoints', jsonBody('POST', body));
  }

  /** `DELETE /endpoints/{name}`: stops its replicas. */
  async deleteEndpoint(name: string): Promise<void> {
    await this.request<void>(`endpoints/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** `POST /endpoints/{name}/keys/{which}`: a new key (the old one stops working); answered once. */
  regenerateEndpointKey(name: string, which: KeyName): Promise<IRegeneratedKey> {
    return this.request<IRegeneratedKey>(
      `endpoints/${encodeURIComponent(name)}/keys/${which}`,
      jsonBody('POST', {})
    );
  }

  /** `GET /batch-endpoints`: every batch endpoint with the state of its last job (never keys). */
  listBatchEndpoints(): Promise<IBatchEndpointList> {
    return this.request<IBatchEndpointList>('batch-endpoints');
  }

  /** `GET /endpoints/{name}/logs`: what the endpoint's replicas printed last. */
  endpointLogs(name: string, lines = 200): Promise<IEndpointLogs> {
    return this.request<IEndpointLogs>(`endpoints/${encodeURIComponent(name)}/logs?lines=${lines}`);
  }

  /**
   * `POST /endpoints/{name}/score`: the Try it box. The server relays the body
   * to the endpoint's `POST /score` with `Authorization: Bearer <key>` and
   * answers what the endpoint answered. Jupyter's own auth guards the relay
   * (the key alone opens no /mlws/api route, RELIABILITY A7); the endpoint
   * checks the key. Through the server, not straight from the page: the
   * endpoint listens on the server's loopback, which a remote browser cannot reach.
   * Every answer (401, 400 naming a column, ...) resolves: the box shows it.
   */
  async scoreEndpoint(name: string, key: string, body: string): Promise<IScoreAnswer> {
    const init: RequestInit = {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', 'X-MLWS-Endpoint-Key': key }
    };
    const response = await send(this.serverSettings, `endpoints/${encodeURIComponent(name)}/score`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: show the text
    }
    return { status: response.status, body: parsed };
  }

  /** `GET /runs/{id}/artifacts/{path}`: the raw answer (text, image or table previews). */
  async downloadArtifact(runId: string, path: string, inline = false): Promise<Response> {
    const endpoint = `runs/${encodeURIComponent(runId)}/artifacts/${path
      .split('/')
      .map(encodeURIComponent)
      .join('/')}${inline ? '?inline=true' : ''}`;
    return requestRaw(this.serverSettings, endpoint);
  }

  /** A request under the API root whose answer is JSON (every method but the score relay and downloads). */
  request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    return requestJSON<T>(this.serverSettings, endpoint, init);
  }
}
