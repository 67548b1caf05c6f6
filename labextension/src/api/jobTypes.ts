/**
 * Names for the shapes of the `/jobs` and `/compute/clusters` parts of the
 * `/mlws/api/v1` API: aliases into `schema.ts`, generated from the server's
 * pydantic models (`jlpm gen:api`), so the compiler checks the client
 * against the server.
 */
import { components } from './schema';

type Schemas = components['schemas'];

/** A training cluster or an attached one, with what it is doing now (`GET /compute/clusters/{name}`). */
export type ICluster = Schemas['ClusterModel'];

/** `GET /compute/clusters` */
export type IClusterList = Schemas['ClusterList'];

/** One recorded compute event (a cluster's `node_added`, `node_removed`, `scaled`, ...). */
export type IComputeEventRecord = Schemas['ComputeEventModel'];

/** A job of the queue: state, attempt, node, run (`GET /jobs/{job_id}`). */
export type IJob = Schemas['JobModel'];

/** `GET /jobs`: newest first. */
export type IJobList = Schemas['JobList'];

/** `GET /jobs/{job_id}/logs`: the output after a cursor, and the cursor to ask from next. */
export type IJobLogs = Schemas['LogChunks'];

/** One piece of a job's output (stdout or stderr of one attempt). */
export type IJobLogChunk = Schemas['LogChunkModel'];

/** Query of `GET /jobs`. */
export interface IJobSearch {
  /** Only jobs in these states (queued, running, completed, failed, canceled, killed). */
  states?: string[];
  target?: string;
  limit?: number;
}
