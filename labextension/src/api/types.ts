/**
 * Names for the shapes of the `/mlws/api/v1` API.
 *
 * Nothing here is written by hand: `schema.ts` is generated from the server's
 * OpenAPI document (`jlpm gen:api`), and these are aliases into it.
 */
import { components } from './schema';

type Schemas = components['schemas'];

/** `GET /mlws/api/v1/info` */
export type IWorkspaceInfo = Schemas['WorkspaceInfo'];

/** The JSON body of every error answer. */
export type IErrorBody = Schemas['ErrorBody'];

/** `GET /mlws/api/v1/runs/{run_id}`: a run with its params, tags and latest metrics. */
export type IRunModel = Schemas['RunModel'];

/** `GET /mlws/api/v1/runs/{run_id}/diff/{other_id}`: what the second run did differently. */
export type IRunDiff = Schemas['RunDiffModel'];

/** `POST /mlws/api/v1/runs/{run_id}/replay`: the replay's process started (202). */
export type IReplayStarted = Schemas['ReplayStarted'];

/** `GET /mlws/api/v1/experiments/{experiment_id}` */
export type IExperimentModel = Schemas['ExperimentModel'];

/** A live update about a run, pushed on Jupyter's event bus. */
export type IRunEvent = Schemas['RunEvent'];

/** The event-bus schema id of run events (see jupyter_mlws/server/events.py). */
export const RUN_EVENT_SCHEMA_ID = 'https://events.jupyter.org/jupyter_mlws/run/v1';

/** `GET /mlws/api/v1/experiments` */
export type IExperimentList = Schemas['ExperimentList'];

/** `GET /mlws/api/v1/runs`: one page of runs. */
export type IRunPage = Schemas['RunPage'];

/** `GET /mlws/api/v1/runs/{run_id}/metrics/{key}`: columns of a (downsampled) history. */
export type IMetricHistory = Schemas['MetricHistory'];
export type IMetricHistories = Schemas['MetricHistories'];
export type IMetricGrid = Schemas['MetricGrid'];

/** `GET /mlws/api/v1/runs/{run_id}/artifacts` */
export type IArtifactList = Schemas['ArtifactList'];

/** One artifact of a run. */
export type IArtifactInfo = Schemas['ArtifactInfo'];
