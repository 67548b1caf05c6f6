import { MLWorkspaceAPI } from '../api/client';
import { IModelVersion, IRegisteredModel } from '../api/registryTypes';
import { message, PolledState } from '../common/polling';

/** Where a version came from: its run and that run's experiment (names for display). */
export interface ILineage {
  runName: string;
  experimentId: number | null;
  experimentName: string | null;
}

/**
 * The state behind the panel's Models tab: the registered models, the
 * versions of the models the user opened, the lineage of those versions,
 * and the alias operations.
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Models tab is the
 *   shown tab of a visible panel (polling: common/polling.ts).
 * - The React views (models.tsx) display it and call `toggle`, `setAlias`
 *   and `removeAlias`; they never fetch themselves.
 *
 * Decisions:
 * - One `GET /models` per refresh, plus `GET /models/{name}/versions` for
 *   each opened model only: a closed model costs nothing.
 * - Lineage (run name, experiment) is fetched once per run and kept: a
 *   run's name and experiment do not change under a registered version.
 *   A run deleted since shows its id only.
 * - Alias names and versions are checked by the server; its 400/404
 *   message is shown next to the version (`itemErrors`, keyed "name:version").
 */
export class ModelsTabModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super();
  }

  /** Models by name, or null before the first answer. */
  models: IRegisteredModel[] | null = null;
  /** The opened models' versions (newest first), by model name. */
  versions = new Map<string, IModelVersion[]>();
  /** Lineage by run id (absent: not fetched yet; null: the run is gone). */
  lineage = new Map<string, ILineage | null>();
  /** Errors of the last alias operation, by "name:version". */
  itemErrors = new Map<string, string>();

  isOpen(name: string): boolean {
    return this._open.has(name);
  }

  /** Open or close a model's versions. */
  async toggle(name: string): Promise<void> {
    if (this._open.has(name)) {
      this._open.delete(name);
      this.emitChanged();
      return;
    }
    this._open.add(name);
    this.emitChanged();
    await this.refresh();
  }

  /** `PUT /models/{name}/aliases/{alias}`: set or move an alias to this version. */
  async setAlias(name: string, version: number, alias: string): Promise<boolean> {
    const key = `${name}:${version}`;
    this.itemErrors.delete(key);
    try {
      await this.api.setModelAlias(name, alias.trim(), version);
    } catch (reason) {
      this.itemErrors.set(key, message(reason));
      this.emitChanged();
      return false;
    }
    await this.refresh();
    return true;
  }

  /** `DELETE /models/{name}/aliases/{alias}` */
  async removeAlias(name: string, version: number, alias: string): Promise<void> {
    const key = `${name}:${version}`;
    this.itemErrors.delete(key);
    try {
      await this.api.deleteModelAlias(name, alias);
    } catch (reason) {
      this.itemErrors.set(key, message(reason));
    }
    await this.refresh();
  }

  protected async load(): Promise<() => void> {
    const list = await this.api.listModels();
    const names = new Set(list.models.map(m => m.name));
    const open = [...this._open].filter(name => names.has(name));
    const versions = await Promise.all(open.map(name => this.api.listModelVersions(name)));
    const fetched = new Map(open.map((name, i) => [name, versions[i].versions]));
    await this._loadLineage([...fetched.values()].flat());
    return () => {
      this.models = list.models;
      this.versions = fetched;
    };
  }

  private async _loadLineage(versions: IModelVersion[]): Promise<void> {
    const runIds = new Set(
      versions.map(v => v.source_run_id).filter((id): id is string => !!id && !this.lineage.has(id))
    );
    await Promise.all(
      [...runIds].map(async runId => {
        try {
          const run = await this.api.getRun(runId);
          let experimentName = run.experiment_name ?? null;
          if (experimentName === null) {
            try {
              experimentName = (await this.api.getExperiment(run.experiment_id)).name;
            } catch {
              // the experiment's name is a nicety; the run link still works
            }
          }
          this.lineage.set(runId, {
            runName: run.name,
            experimentId: run.experiment_id,
            experimentName
          });
        } catch {
          this.lineage.set(runId, null);
        }
      })
    );
  }

  private _open = new Set<string>();
}
