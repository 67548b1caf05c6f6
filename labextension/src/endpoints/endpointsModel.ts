import { MLWorkspaceAPI } from '../api/client';
import {
  IBatchEndpoint,
  IDeployBody,
  IEndpoint,
  IEndpointKeys,
  IScoreAnswer,
  ISignature,
  KeyName
} from '../api/registryTypes';
import { message, PolledState } from '../common/polling';

/**
 * The state behind the panel's Endpoints tab: the endpoints (state,
 * replicas, deployments, request counts and latency), keys shown once,
 * the Try it box's answers, and the batch endpoints (model, target, the
 * state of the job their last invoke started), polled together.
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Endpoints tab is the
 *   shown tab of a visible panel (polling: common/polling.ts), so the request
 *   count and percentiles follow the traffic every 2 s.
 * - The React views (endpoints.tsx, endpointsTry.tsx) display it and call
 *   `deploy`, `remove`, `regenerate`, `dismissKeys` and `score`.
 *
 * Decisions (keys, RELIABILITY A7):
 * - The server keeps only hashes; a key exists in plaintext in the answer
 *   that made it (deploy, regenerate). The page shows it in `shownKeys`
 *   until the user dismisses it, and remembers it (in memory, never in
 *   storage) as the Try it key, so trying a fresh endpoint needs no pasting.
 *   A reload forgets it: regenerate to get a key again.
 * - Try it goes through the server's relay (`MLWorkspaceAPI.scoreEndpoint`)
 *   and shows whatever the endpoint answered (predictions, 400, 401).
 */
export class EndpointsTabModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super();
  }

  /** Endpoints by name, or null before the first answer. */
  endpoints: IEndpoint[] | null = null;
  /** Batch endpoints by name (with their last job), or null before the first answer. */
  batchEndpoints: IBatchEndpoint[] | null = null;
  /** Errors of the last operation on an endpoint, by its name. */
  itemErrors = new Map<string, string>();
  /** Keys shown once, by endpoint name, until dismissed. */
  shownKeys = new Map<string, IEndpointKeys>();
  /** The Try it box's key per endpoint (pasted, or the last key made here). */
  tryKeys = new Map<string, string>();
  /** The Try it box's last answer per endpoint. */
  answers = new Map<string, IScoreAnswer>();
  /** The replicas' last log lines per endpoint, once asked for (the Logs section). */
  logs = new Map<string, string>();
  /** Signatures of deployed versions by "name:version" (a version never changes: fetched once). */
  signatures = new Map<string, ISignature | null>();

  /** The signature of an endpoint's first deployment, for the Try it example. */
  signatureOf(endpoint: IEndpoint): ISignature | null {
    const first = endpoint.deployments[0];
    return first ? this.signatures.get(`${modelName(first.model)}:${first.version}`) ?? null : null;
  }

  /** `POST /endpoints`; rejects with the server's message (the form shows it). */
  async deploy(body: IDeployBody): Promise<void> {
    const created = await this.api.deployEndpoint(body);
    if (created.keys && (created.keys.primary || created.keys.secondary)) {
      this.shownKeys.set(created.name, { ...created.keys });
      const key = created.keys.primary ?? created.keys.secondary;
      if (key) {
        this.tryKeys.set(created.name, key);
      }
    }
    await this.refresh();
  }

  /** `DELETE /endpoints/{name}`; a refusal is kept in `itemErrors`. */
  async remove(name: string): Promise<void> {
    this.itemErrors.delete(name);
    try {
      await this.api.deleteEndpoint(name);
      this.shownKeys.delete(name);
      this.tryKeys.delete(name);
      this.answers.delete(name);
    } catch (reason) {
      this.itemErrors.set(name, message(reason));
    }
    await this.refresh();
  }

  /** `POST /endpoints/{name}/keys/{which}`: the new key is shown once and used by Try it. */
  async regenerate(name: string, which: KeyName): Promise<void> {
    this.itemErrors.delete(name);
    try {
      const answer = await this.api.regenerateEndpointKey(name, which);
      this.shownKeys.set(name, { [which]: answer.key });
      this.tryKeys.set(name, answer.key);
    } catch (reason) {
      this.itemErrors.set(name, message(reason));
    }
    this.emitChanged();
  }

  /** Hide the keys shown for an endpoint (they cannot be shown again). */
  dismissKeys(name: string): void {
    this.shownKeys.delete(name);
    this.emitChanged();
  }

  /** `GET /endpoints/{name}/logs`: the last lines into `logs` (an error into `itemErrors`). */
  async loadLogs(name: string, lines = 200): Promise<void> {
    try {
      const answer = await this.api.endpointLogs(name, lines);
      this.logs.set(name, answer.text);
      this.itemErrors.delete(name);
    } catch (reason) {
      this.itemErrors.set(name, message(reason));
    }
    this.emitChanged();
  }

  setTryKey(name: string, key: string): void {
    this.tryKeys.set(name, key);
  }

  /** Send `body` (JSON text) to the endpoint's `/score` with `key`; the answer lands in `answers`. */
  async score(name: string, key: string, body: string): Promise<void> {
    this.tryKeys.set(name, key);
    try {
      JSON.parse(body);
    } catch (reason) {
      this.answers.set(name, { status: 0, body: `The body is not JSON: ${message(reason)}` });
      this.emitChanged();
      return;
    }
    try {
      this.answers.set(name, await this.api.scoreEndpoint(name, key, body));
    } catch (reason) {
      this.answers.set(name, { status: 0, body: message(reason) });
    }
    this.emitChanged();
    await this.refresh(); // the request count moves
  }

  protected async load(): Promise<() => void> {
    const [list, batch] = await Promise.all([this.api.listEndpoints(), this.api.listBatchEndpoints()]);
    const missing = new Set<string>();
    for (const endpoint of list.endpoints) {
      for (const d of endpoint.deployments) {
        const key = `${modelName(d.model)}:${d.version}`;
        if (!this.signatures.has(key)) {
          missing.add(key);
        }
      }
    }
    await Promise.all(
      [...missing].map(async key => {
        const at = key.lastIndexOf(':');
        try {
          const version = await this.api.getModelVersion(key.slice(0, at), Number(key.slice(at + 1)));
          this.signatures.set(key, version.signature ?? null);
        } catch {
          this.signatures.set(key, null); // the example body stays generic
        }
      })
    );
    return () => {
      this.endpoints = list.endpoints;
      this.batchEndpoints = batch.batch_endpoints;
    };
  }
}

/** Where to `POST` for predictions (`http://127.0.0.1:PORT/score`), or null before the endpoint has a port. */
export function scoringUrl(endpoint: IEndpoint): string | null {
  if (endpoint.scoring_url) {
    return endpoint.scoring_url;
  }
  if (endpoint.url) {
    return `${endpoint.url.replace(/\/$/, '')}/score`;
  }
  return null;
}

/** "churn" of "churn@production", "churn:3" or "churn". */
export function modelName(reference: string): string {
  return reference.split(/[@:]/, 1)[0];
}
