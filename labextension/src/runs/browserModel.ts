import { ISignal, Signal } from '@lumino/signaling';

import { IExperimentModel, IRunEvent, IRunModel } from '../api/types';
import { KeyedThrottle } from '../common/throttle';
import { IMLWorkspace } from '../tokens';
import { oneRunFilter, orderBy } from './runSearch';
import { RunsTableView } from './tableView';

/**
 * The workspace browser of the sidebar: experiments, then one experiment's
 * runs table. This is its state; browser.tsx and its parts show it
 * (experimentList.tsx, runsTable.tsx, filterBar.tsx). Decisions:
 * - Paged, not virtualised: the server sorts (`order_by`) and pages
 *   (`limit`, `page_token`); the table holds the pages fetched so far and
 *   "Load more" (or scrolling to the end) fetches the next. 10,000 runs cost
 *   one page of `PAGE_SIZE` rows until the user asks for more.
 * - Sorting by a column asks the server again (`name`, `status`,
 *   `start_time`, `metrics.<key>`, `params.<key>`, `tags.<key>`), so the
 *   order holds over all runs, not just the loaded page. Duration is
 *   computed: it sorts the loaded runs; params and tags sort as numbers once
 *   all runs are loaded (runColumns.ts).
 * - Live: run events update the rows in place. `created` in the shown
 *   experiment fetches the run and puts it first; `updated` sets the status
 *   from the event at once, then refetches the row for its end time and
 *   metrics; `metrics` refetches the row at most once a second; `resync`
 *   reloads the table.
 * - Experiment counts are capped: one `GET /runs?limit=COUNT_CAP` per
 *   experiment, shown as "100+" beyond the cap (the API has no count).
 * - A filter (the server's grammar, e.g. `metrics.loss < 0.5 and params.lr = '0.01'`)
 *   narrows the table; a live-created run is shown only if it matches it
 *   (asked of the server: `run_id = '<id>' and (<filter>)`).
 * - What the table shows of the loaded runs (columns and their saved sets,
 *   groups, folds, the ordered selection) is the base class's, tableView.ts.
 */

export const PAGE_SIZE = 100;
const COUNT_CAP = 100;
const ROW_REFRESH_MS = 150;

export class BrowserModel extends RunsTableView {
  constructor(workspace: IMLWorkspace) {
    super(workspace);
    workspace.runEvents.connect(this._onRunEvent, this);
  }

  get changed(): ISignal<BrowserModel, void> {
    return this._changed;
  }

  experiments: IExperimentModel[] | null = null;
  counts = new Map<number, string>();
  loading = false;
  filter = '';

  get experiment(): IExperimentModel | null {
    return this.experiments?.find(e => e.experiment_id === this.experimentId) ?? null;
  }

  dispose(): void {
    this.workspace.runEvents.disconnect(this._onRunEvent, this);
    this._rowRefresh.dispose();
    Signal.clearData(this);
  }

  async loadExperiments(): Promise<void> {
    try {
      const list = await this.workspace.api.listExperiments();
      this.experiments = list.experiments;
      this.error = null;
      this._changed.emit();
      await Promise.all(list.experiments.map(e => this._count(e.experiment_id)));
    } catch (reason) {
      this.error = reason instanceof Error ? reason.message : String(reason);
    }
    this._changed.emit();
  }

  private async _count(experimentId: number): Promise<void> {
    try {
      const page = await this.workspace.api.searchRuns({ experimentId, limit: COUNT_CAP });
      this.counts.set(experimentId, page.next_page_token ? `${COUNT_CAP}+` : String(page.runs.length));
    } catch {
      this.counts.delete(experimentId);
    }
  }

  openExperiment(experimentId: number | null): void {
    this.experimentId = experimentId;
    this.runs = [];
    this.nextPageToken = null;
    this.resetView();
    this.filter = '';
    this._changed.emit();
    if (experimentId !== null) {
      void this.reloadRuns();
      void this.loadColumnSets(experimentId);
    } else {
      void this.loadExperiments();
    }
  }

  setSort(column: string): void {
    this.sort =
      this.sort.column === column
        ? { column, desc: !this.sort.desc }
        : { column, desc: column === 'start_time' || column.startsWith('metrics.') };
    void this.reloadRuns();
  }

  setFilter(filter: string): void {
    this.filter = filter.trim();
    void this.reloadRuns();
  }

  async reloadRuns(): Promise<void> {
    this.nextPageToken = null;
    await this._fetchPage(true);
  }

  async loadMore(): Promise<void> {
    if (this.nextPageToken !== null && !this.loading) {
      await this._fetchPage(false);
    }
  }

  private async _fetchPage(fresh: boolean): Promise<void> {
    const experimentId = this.experimentId;
    if (experimentId === null) {
      return;
    }
    const ticket = ++this._ticket;
    this.loading = true;
    this._changed.emit();
    try {
      const page = await this.workspace.api.searchRuns({
        experimentId,
        filter: this.filter || undefined,
        orderBy: orderBy(this.sort),
        limit: PAGE_SIZE,
        pageToken: fresh ? null : this.nextPageToken
      });
      if (ticket !== this._ticket) {
        return;
      }
      const known = new Set(fresh ? [] : this.runs.map(r => r.run_id));
      this.runs = [...(fresh ? [] : this.runs), ...page.runs.filter(r => !known.has(r.run_id))];
      this.nextPageToken = page.next_page_token ?? null;
      this.error = null;
    } catch (reason) {
      if (ticket !== this._ticket) {
        return;
      }
      this.error = reason instanceof Error ? reason.message : String(reason);
    }
    this.loading = false;
    this._changed.emit();
  }

  private _onRunEvent(_: IMLWorkspace, event: IRunEvent): void {
    if (event.action === 'resync') {
      if (this.experimentId !== null) {
        void this.reloadRuns();
      } else {
        void this.loadExperiments();
      }
      return;
    }
    if (this.experimentId === null) {
      if (event.action === 'created') {
        // A new experiment, or one more run in a known one.
        const known = this.experiments?.some(e => e.experiment_id === event.experiment_id);
        if (!known) {
          void this.loadExperiments();
        } else {
          void this._count(event.experiment_id).then(() => this._changed.emit());
        }
      }
      return;
    }
    if (event.experiment_id !== this.experimentId) {
      return;
    }
    const index = this.runs.findIndex(r => r.run_id === event.run_id);
    if (event.action === 'created' && index < 0) {
      void this._refreshRow(event.run_id, true);
      return;
    }
    if (index < 0) {
      return;
    }
    if (event.action === 'updated' && event.status) {
      this.runs = this.runs.map(r => (r.run_id === event.run_id ? { ...r, status: event.status as string } : r));
      this._changed.emit();
      void this._refreshRow(event.run_id, false);
    } else if (event.action === 'metrics') {
      this._rowRefresh.call(event.run_id);
    }
  }

  private async _refreshRow(runId: string, insert: boolean): Promise<void> {
    try {
      let run: IRunModel;
      if (insert && this.filter) {
        const page = await this.workspace.api.searchRuns({
          experimentId: this.experimentId ?? undefined,
          filter: oneRunFilter(runId, this.filter),
          limit: 1
        });
        if (page.runs.length === 0) {
          return;
        }
        run = page.runs[0];
      } else {
        run = await this.workspace.api.getRun(runId);
      }
      if (run.experiment_id !== this.experimentId) {
        return;
      }
      const index = this.runs.findIndex(r => r.run_id === runId);
      if (index >= 0) {
        const next = [...this.runs];
        next[index] = run;
        this.runs = next;
      } else if (insert) {
        this.runs = [run, ...this.runs];
      }
      this._changed.emit();
    } catch {
      // The row keeps what it showed; the next event tries again.
    }
  }

  protected emitChanged(): void {
    this._changed.emit();
  }

  private _ticket = 0;
  /**
   * Refreshes a row at once on its first metrics event, then at most once per ROW_REFRESH_MS
   * while events keep coming (the last one is never dropped): new points show within about
   * the server watcher's 0.25 s plus one request.
   */
  private _rowRefresh = new KeyedThrottle(runId => void this._refreshRow(runId, false), ROW_REFRESH_MS);
  private _changed = new Signal<BrowserModel, void>(this);
}

