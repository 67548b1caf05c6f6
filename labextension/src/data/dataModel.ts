import { MLWorkspaceAPI, MLWorkspaceAPIError } from '../api/client';
import { IDataAsset, IDataVersion } from '../api/dataTypes';
import { IRunModel } from '../api/types';
import { message, PolledState } from '../common/polling';
import { dataRef, readersFilter, readsVersion } from './lineage';

/** At most this many runs are listed under a version's "Read by" (newest first). */
export const READERS_LIMIT = 50;

/** The runs that read one version, as last searched. */
export interface IReaders {
  runs: IRunModel[];
  /** More runs read it than are listed. */
  more: boolean;
  /** Why the search failed, or null. */
  error: string | null;
}

/** The run that registered a version, for display (null: the run is gone). */
export interface ISourceRun {
  name: string;
  experimentName: string | null;
}

/**
 * The state behind the panel's Data tab: the data assets, the versions of
 * the assets the user opened, and for each opened version its files and the
 * runs that read it (lineage).
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Data tab is the
 *   shown tab of a visible panel (polling: common/polling.ts), and `reveal`
 *   for the `mlws:open-data` command (a data input of the run view).
 * - The React view (data.tsx) displays it and calls `toggle` and
 *   `toggleVersion`; it never fetches.
 *
 * Decisions:
 * - One `GET /data` per refresh, `GET /data/{name}/versions` per opened
 *   asset, and one run search per opened version: `tags.mlws.data like
 *   '% name:v %'` over every experiment (lineage.ts), newest first, checked
 *   exactly on the client (`_` is a wildcard of `like`). A closed asset or
 *   version costs nothing.
 * - The run that registered a version is fetched once and kept: a run's
 *   name does not change under a registered version (a 404 is kept as
 *   "gone"; another failure is asked again at the next refresh).
 */
export class DataTabModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super();
  }

  /** Assets by name, or null before the first answer. */
  assets: IDataAsset[] | null = null;
  /** The opened assets' versions (newest first), by asset name. */
  versions = new Map<string, IDataVersion[]>();
  /** The runs that read each opened version, by "name:version". */
  readers = new Map<string, IReaders>();
  /** Source runs by id (absent: not fetched yet; null: the run is gone). */
  sourceRuns = new Map<string, ISourceRun | null>();
  /** The version `reveal` asked for ("name:version"), until the view has scrolled to it. */
  revealed: string | null = null;

  isOpen(name: string): boolean {
    return this._open.has(name);
  }

  isVersionOpen(name: string, version: number): boolean {
    return this._openVersions.has(dataRef(name, version));
  }

  /** Open or close an asset's versions. */
  async toggle(name: string): Promise<void> {
    if (!this._open.delete(name)) {
      this._open.add(name);
    }
    this.emitChanged();
    if (this._open.has(name)) {
      await this.refresh();
    }
  }

  /** Open or close a version's files and readers. */
  async toggleVersion(name: string, version: number): Promise<void> {
    const ref = dataRef(name, version);
    if (!this._openVersions.delete(ref)) {
      this._openVersions.add(ref);
    }
    this.emitChanged();
    if (this._openVersions.has(ref)) {
      await this.refresh();
    }
  }

  /** Open an asset and one of its versions (the newest when `version` is null), and mark it to scroll to. */
  async reveal(name: string, version: number | null): Promise<void> {
    this._open.add(name);
    let number = version;
    if (number === null) {
      try {
        number = (await this.api.getDataVersion(name, 'latest')).version;
      } catch (reason) {
        this.error = message(reason);
      }
    }
    if (number !== null) {
      const ref = dataRef(name, number);
      this._openVersions.add(ref);
      this.revealed = ref;
    }
    this.emitChanged();
    await this.refresh();
  }

  /** The view scrolled to the revealed version. */
  revealDone(): void {
    this.revealed = null;
  }

  protected async load(): Promise<() => void> {
    const list = await this.api.listDataAssets();
    const names = new Set(list.assets.map(a => a.name));
    const open = [...this._open].filter(name => names.has(name));
    const answers = await Promise.all(open.map(name => this.api.listDataVersions(name)));
    const versions = new Map(open.map((name, i) => [name, [...answers[i].versions].reverse()]));
    const shown = [...versions.values()].flat().filter(v => this._openVersions.has(dataRef(v.name, v.version)));
    const readers = new Map<string, IReaders>();
    await Promise.all([
      ...shown.map(async v => {
        const ref = dataRef(v.name, v.version);
        readers.set(ref, await this._readers(ref));
      }),
      this._loadSourceRuns([...versions.values()].flat())
    ]);
    return () => {
      this.assets = list.assets;
      this.versions = versions;
      this.readers = readers;
    };
  }

  private async _readers(ref: string): Promise<IReaders> {
    try {
      const page = await this.api.searchRuns({
        filter: readersFilter(ref),
        orderBy: ['start_time desc'],
        limit: READERS_LIMIT
      });
      const runs = page.runs.filter(run => readsVersion(run.tags, ref));
      return { runs, more: !!page.next_page_token, error: null };
    } catch (reason) {
      return { runs: this.readers.get(ref)?.runs ?? [], more: false, error: message(reason) };
    }
  }

  private async _loadSourceRuns(versions: IDataVersion[]): Promise<void> {
    const runIds = new Set(
      versions.map(v => v.source_run_id).filter((id): id is string => !!id && !this.sourceRuns.has(id))
    );
    await Promise.all(
      [...runIds].map(async runId => {
        try {
          const run = await this.api.getRun(runId);
          this.sourceRuns.set(runId, { name: run.name, experimentName: run.experiment_name ?? null });
        } catch (reason) {
          if (reason instanceof MLWorkspaceAPIError && reason.status === 404) {
            this.sourceRuns.set(runId, null); // otherwise asked again at the next refresh
          }
        }
      })
    );
  }

  private _open = new Set<string>();
  private _openVersions = new Set<string>();
}
