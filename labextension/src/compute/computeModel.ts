import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from '../api/client';
import { IComputeInstance, IComputeInstanceBody } from '../api/computeTypes';
import { ICluster, IComputeEventRecord } from '../api/jobTypes';
import { message, PolledState } from '../common/polling';

/**
 * The state behind the panel's Compute tab: the compute instances with
 * their running kernels, the last error, and the instance operations.
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Compute tab is the
 *   shown tab of a visible panel, `setActive(false)` otherwise.
 * - `watchComputeEvents` (computeEvents.ts) calls `refresh()` on live
 *   compute events and listens to `instancesChanged` to refresh the
 *   kernelspecs (so the Launcher shows or hides an instance's card).
 * - The React views (compute.tsx) display the model and call `create`,
 *   `update`, `remove` and `keepAlive`; they never fetch themselves.
 *
 * Decisions:
 * - One request per refresh for the instances: `GET /compute/instances`
 *   carries each instance's kernels with their usage, so the kernel rows need
 *   no second call. The clusters take two more (`GET /compute/clusters`, the
 *   queued jobs) and one per cluster for its recent node events; a server
 *   without clusters (a REST-backed one answers 503) shows the instances still,
 *   with the clusters' error on their own.
 * - Polled as every tab is (common/polling.ts); live events refresh at once in between.
 */

/** The event kinds a cluster card lists: what its nodes did, and why. */
const NODE_EVENTS = ['node_added', 'node_removed', 'scaled', 'cluster_started', 'cluster_stopped'];
/** Events read per cluster (its definition events are skipped) and how many are shown. */
const EVENTS_ASKED = 30;
const EVENTS_SHOWN = 5;

/** A cluster as the Compute tab shows it. */
export interface IClusterView {
  cluster: ICluster;
  /** Jobs waiting in the queue for this cluster. */
  queued: number;
  /** The newest node events first. */
  events: IComputeEventRecord[];
}

export class ComputeModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super();
  }

  /** Emitted after this page created, changed or deleted an instance (kernelspecs changed on the server). */
  get instancesChanged(): ISignal<ComputeModel, void> {
    return this._instancesChanged;
  }

  /** Instances by name, or null before the first answer. */
  instances: IComputeInstance[] | null = null;
  /** Clusters with their queue and recent node events, or null before the first answer. */
  clusters: IClusterView[] | null = null;
  /** Why the clusters could not be read, or null. */
  clustersError: string | null = null;

  /** Where a cluster's Dask dashboard is shown (through the server, authenticated). */
  dashboardUrl(name: string): string {
    return this.api.clusterDashboardUrl(name);
  }

  /** Errors of the last delete or keep-alive, by instance name or kernel id (shown next to them). */
  itemErrors = new Map<string, string>();

  /** One request: `GET /compute/instances` carries each instance's kernels with their usage. */
  protected async load(): Promise<() => void> {
    const [list, clusters] = await Promise.all([this.api.listComputeInstances(), this._loadClusters()]);
    return () => {
      this.instances = list.instances;
      if (typeof clusters === 'string') {
        this.clustersError = clusters;
      } else {
        this.clusters = clusters;
        this.clustersError = null;
      }
    };
  }

  /** The clusters with their queue and node events, or the error's message. */
  private async _loadClusters(): Promise<IClusterView[] | string> {
    try {
      const [{ clusters }, { jobs }] = await Promise.all([
        this.api.listClusters(),
        this.api.listJobs({ states: ['queued'], limit: 10000 })
      ]);
      const events = await Promise.all(
        clusters.map(c => this.api.listComputeEvents({ instance: c.name, limit: EVENTS_ASKED }))
      );
      return clusters.map((cluster, i) => ({
        cluster,
        queued: jobs.filter(j => j.target === cluster.name).length,
        events: events[i].events.filter(e => NODE_EVENTS.includes(e.kind)).slice(0, EVENTS_SHOWN)
      }));
    } catch (reason) {
      return message(reason);
    }
  }

  /** `POST /compute/instances`; rejects with the server's message (the form shows it). */
  async create(body: IComputeInstanceBody): Promise<IComputeInstance> {
    const instance = await this.api.createComputeInstance(body);
    this._instancesChanged.emit();
    await this.refresh();
    return instance;
  }

  /** `PATCH /compute/instances/{name}`; rejects with the server's message. */
  async update(name: string, changes: IComputeInstanceBody): Promise<IComputeInstance> {
    const instance = await this.api.updateComputeInstance(name, changes);
    this._instancesChanged.emit();
    await this.refresh();
    return instance;
  }

  /** `DELETE /compute/instances/{name}`; a refusal (409: kernels still run) is kept in `itemErrors`. */
  async remove(name: string): Promise<boolean> {
    this.itemErrors.delete(name);
    try {
      await this.api.deleteComputeInstance(name);
    } catch (reason) {
      this.itemErrors.set(name, message(reason));
      this.emitChanged();
      return false;
    }
    this._instancesChanged.emit();
    await this.refresh();
    return true;
  }

  /** `POST /compute/kernels/{id}/keepalive`: postpone the kernel's idle shutdown. */
  async keepAlive(kernelId: string): Promise<void> {
    this.itemErrors.delete(kernelId);
    try {
      await this.api.keepKernelAlive(kernelId);
    } catch (reason) {
      this.itemErrors.set(kernelId, message(reason));
    }
    await this.refresh();
  }

  private _instancesChanged = new Signal<ComputeModel, void>(this);
}

export { message };
