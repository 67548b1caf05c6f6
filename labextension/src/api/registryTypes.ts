/**
 * Names for the shapes of the `/models` and `/endpoints` parts of the
 * `/mlws/api/v1` API (issue 8), used by the panel's Models and Endpoints tabs.
 *
 * The REST shapes are aliases into `schema.ts`, generated from the server's
 * pydantic models (`jlpm gen:api`), so the compiler checks the client against
 * the server. Two fields are typed on the server as free-form JSON objects
 * and narrowed here to what the server puts in them: a version's
 * `signature` (models/signature.py) and an endpoint's `stats` (the endpoint
 * manager's aggregate). Request bodies are `Partial` where the server fills
 * in defaults. Key material appears in exactly two answers: the deploy
 * answer (`keys`) and the regenerate answer (`key`).
 */
import { components } from './schema';

type Schemas = components['schemas'];

/** One column of a signature. */
export interface ISignatureColumn {
  name: string;
  type: string;
}

/** Input (and optionally output) columns with their types, inferred from an example. */
export interface ISignature {
  inputs: ISignatureColumn[];
  outputs?: ISignatureColumn[] | null;
}

/** A registered model version in full (`GET /models/{name}/versions/{v}`). */
export type IModelVersion = Omit<Schemas['ModelVersionModel'], 'signature'> & { signature: ISignature | null };

/** `GET /models/{name}/versions` (newest first) */
export type IModelVersionList = { versions: IModelVersion[] };

/** A model name in the registry (`GET /models` lists these). */
export type IRegisteredModel = Schemas['RegisteredModelModel'];

/** `GET /models` */
export type IRegisteredModelList = Schemas['RegisteredModelList'];

/** A model version behind an endpoint, with its share of the traffic (percent). */
export type IDeployment = Schemas['DeploymentModel'];

/** What the endpoint manager records about the traffic (serving/manager.py). */
export interface IEndpointStats {
  requests?: number;
  errors?: number;
  p50_ms?: number | null;
  p90_ms?: number | null;
  p99_ms?: number | null;
  per_deployment?: Record<string, { requests?: number; errors?: number }>;
}

/** A scoring endpoint (`GET /endpoints/{name}`), without key material. */
export type IEndpoint = Omit<Schemas['EndpointModel'], 'stats'> & { stats?: IEndpointStats };

/** `GET /endpoints` */
export type IEndpointList = { endpoints: IEndpoint[] };

/** The two keys of an endpoint, in plaintext: only in the answer that made them. */
export type IEndpointKeys = Partial<Schemas['EndpointKeys']>;

/** `POST /endpoints` → 201: the endpoint and, when it was created, its keys (once). */
export type IDeployedEndpoint = Omit<Schemas['EndpointCreated'], 'stats'> & { stats?: IEndpointStats };

/** Body of `POST /endpoints` (name and model required; the server fills in the rest). */
export type IDeployBody = Pick<Schemas['DeployEndpoint'], 'name' | 'model'> & Partial<Schemas['DeployEndpoint']>;

/** `POST /endpoints/{name}/keys/{which}`: the new key, once. */
export type IRegeneratedKey = Schemas['KeyRegenerated'];

/** Which key of an endpoint. */
export type KeyName = 'primary' | 'secondary';

/** `GET /endpoints/{name}/logs`: the replicas' last lines, stamped with time and pid. */
export type IEndpointLogs = Schemas['EndpointLogs'];

/** What the endpoint answered to the Try it box (through `POST /endpoints/{name}/score`). */
export interface IScoreAnswer {
  /** the HTTP status, or 0 when no answer came */
  status: number;
  body: unknown;
}

/** A batch endpoint (`GET /batch-endpoints/{name}`): model, target, settings, last job; never keys. */
export type IBatchEndpoint = Schemas['BatchEndpointModel'];

/** `GET /batch-endpoints` */
export type IBatchEndpointList = Schemas['BatchEndpointList'];
