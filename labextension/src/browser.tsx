import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { IExperimentModel, IRunEvent, IRunModel } from './api/types';
import { formatDuration, formatMetric, KNOWN_STATUSES } from './runview';
import { IMLWorkspace } from './tokens';

/**
 * The workspace browser of the sidebar: experiments, then one experiment's
 * runs table. Decisions:
 * - Paged, not virtualised: the server sorts (`order_by`) and pages
 *   (`limit`, `page_token`); the table holds the pages fetched so far and
 *   "Load more" (or scrolling to the end) fetches the next. 10,000 runs cost
 *   one page of `PAGE_SIZE` rows until the user asks for more.
 * - Sorting by a column asks the server again (`name`, `status`,
 *   `start_time`, `end_time` or `metrics.<key>`), so the order holds over
 *   all runs, not just the loaded page. Duration is computed, so it is not
 *   sortable.
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
 * - Metric columns: the latest value of chosen metrics (the first three
 *   keys seen by default, `system/*` left out), picked with the "Columns" menu.
 */

export const PAGE_SIZE = 100;
const COUNT_CAP = 100;
const ROW_REFRESH_MS = 150;

export interface ISort {
  column: string;
  desc: boolean;
}

function metricOrderKey(key: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(key) ? `metrics.${key}` : `metrics.\`${key.replace(/`/g, '')}\``;
}

export class BrowserModel {
  constructor(readonly workspace: IMLWorkspace) {
    workspace.runEvents.connect(this._onRunEvent, this);
  }

  get changed(): ISignal<BrowserModel, void> {
    return this._changed;
  }

  experiments: IExperimentModel[] | null = null;
  counts = new Map<number, string>();
  experimentId: number | null = null;
  runs: IRunModel[] = [];
  nextPageToken: string | null = null;
  loading = false;
  error: string | null = null;
  sort: ISort = { column: 'start_time', desc: true };
  filter = '';
  metricColumns: string[] | null = null;
  selection = new Set<string>();

  get experiment(): IExperimentModel | null {
    return this.experiments?.find(e => e.experiment_id === this.experimentId) ?? null;
  }

  /** Metric keys of the loaded runs, sorted. */
  get metricKeys(): string[] {
    const keys = new Set<string>();
    for (const run of this.runs) {
      for (const key of Object.keys(run.metrics ?? {})) {
        keys.add(key);
      }
    }
    return [...keys].sort();
  }

  get shownMetricColumns(): string[] {
    // By default the first three of the run's own metrics, not the system ones.
    return this.metricColumns ?? this.metricKeys.filter(k => !k.startsWith('system/')).slice(0, 3);
  }

  dispose(): void {
    this.workspace.runEvents.disconnect(this._onRunEvent, this);
    for (const timer of this._rowTimers.values()) {
      window.clearTimeout(timer);
    }
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
    this.selection = new Set();
    this.metricColumns = null;
    this.filter = '';
    this._changed.emit();
    if (experimentId !== null) {
      void this.reloadRuns();
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

  toggleMetricColumn(key: string): void {
    const shown = this.shownMetricColumns;
    this.metricColumns = shown.includes(key) ? shown.filter(k => k !== key) : [...shown, key];
    this._changed.emit();
  }

  toggleSelected(runId: string): void {
    const next = new Set(this.selection);
    if (!next.delete(runId)) {
      next.add(runId);
    }
    this.selection = next;
    this._changed.emit();
  }

  private _orderBy(): string[] {
    const { column, desc } = this.sort;
    const field = column.startsWith('metrics.') ? metricOrderKey(column.slice(8)) : column;
    const entries = [`${field} ${desc ? 'desc' : 'asc'}`];
    if (column !== 'start_time') {
      entries.push('start_time desc');
    }
    return entries;
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
        orderBy: this._orderBy(),
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
      this._throttledRefresh(event.run_id);
    }
  }

  /**
   * Refresh a row at once on its first metrics event, then at most once per ROW_REFRESH_MS
   * while events keep coming (the last one is never dropped): new points show within about
   * the server watcher's 0.25 s plus one request.
   */
  private _throttledRefresh(runId: string): void {
    if (this._rowTimers.has(runId)) {
      this._rowDirty.add(runId);
      return;
    }
    void this._refreshRow(runId, false);
    const tick = (): void => {
      if (this._rowDirty.delete(runId)) {
        void this._refreshRow(runId, false);
        this._rowTimers.set(runId, window.setTimeout(tick, ROW_REFRESH_MS));
      } else {
        this._rowTimers.delete(runId);
      }
    };
    this._rowTimers.set(runId, window.setTimeout(tick, ROW_REFRESH_MS));
  }

  private async _refreshRow(runId: string, insert: boolean): Promise<void> {
    try {
      let run: IRunModel;
      if (insert && this.filter) {
        const page = await this.workspace.api.searchRuns({
          experimentId: this.experimentId ?? undefined,
          filter: `run_id = '${runId.replace(/[^0-9a-zA-Z]/g, '')}' and (${this.filter})`,
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

  private _ticket = 0;
  private _rowTimers = new Map<string, number>();
  private _rowDirty = new Set<string>();
  private _changed = new Signal<BrowserModel, void>(this);
}

function StatusBadge({ status }: { status: string }): JSX.Element {
  const cls = KNOWN_STATUSES.includes(status) ? status : 'other';
  return (
    <span className={`jp-mlws-status jp-mlws-status-${cls}`} data-status={status}>
      {status}
    </span>
  );
}

function RunDuration({ run }: { run: IRunModel }): JSX.Element {
  const open = run.start_time !== null && run.end_time === null && run.status === 'running';
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    if (!open) {
      return;
    }
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [open]);
  if (run.start_time === null || run.start_time === undefined) {
    return <>—</>;
  }
  const end = run.end_time ?? (open ? now : null);
  return <>{end === null ? '—' : formatDuration(end - run.start_time)}</>;
}

function shortTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '—';
  }
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

export interface IBrowserProps {
  model: BrowserModel;
  onOpenRun: (runId: string) => void;
  onCompare: (runIds: string[]) => void;
}

function SortHeader({
  model,
  column,
  label
}: {
  model: BrowserModel;
  column: string;
  label: string;
}): JSX.Element {
  const active = model.sort.column === column;
  return (
    <th scope="col" aria-sort={active ? (model.sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button
        className="jp-mlws-sort"
        onClick={() => model.setSort(column)}
        title={`Sort by ${label}`}
        aria-label={`Sort by ${label}`}
      >
        {label}
        {active ? (model.sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
}

function ColumnsMenu({ model }: { model: BrowserModel }): JSX.Element | null {
  const keys = model.metricKeys;
  if (keys.length === 0) {
    return null;
  }
  const shown = model.shownMetricColumns;
  return (
    <details className="jp-mlws-columns">
      <summary>Columns</summary>
      <ul>
        {keys.map(key => (
          <li key={key}>
            <label>
              <input type="checkbox" checked={shown.includes(key)} onChange={() => model.toggleMetricColumn(key)} />{' '}
              {key}
            </label>
          </li>
        ))}
      </ul>
    </details>
  );
}

function FilterBox({ model }: { model: BrowserModel }): JSX.Element {
  const [text, setText] = React.useState(model.filter);
  return (
    <input
      type="search"
      className="jp-mlws-filter jp-mod-styled"
      aria-label="Filter runs"
      placeholder="Filter: metrics.loss < 0.5 and params.lr = '0.01'  (Enter)"
      title="The run filter grammar: metrics.K, params.K, tags.K or name, status, start_time… Press Enter."
      value={text}
      onChange={e => setText(e.target.value)}
      onKeyDown={e => {
        if (e.key === 'Enter') {
          model.setFilter(text);
        }
      }}
    />
  );
}

function RunsTable({ model, onOpenRun, onCompare }: IBrowserProps): JSX.Element {
  const experiment = model.experiment;
  const metrics = model.shownMetricColumns;
  const end = React.useRef<HTMLDivElement>(null);
  // Scrolling to the end of the table fetches the next page.
  React.useEffect(() => {
    const node = end.current;
    if (!node) {
      return;
    }
    const observer = new IntersectionObserver(entries => {
      if (entries.some(e => e.isIntersecting)) {
        void model.loadMore();
      }
    });
    observer.observe(node);
    return () => observer.disconnect();
  }, [model, model.nextPageToken]);
  const selected = [...model.selection];
  return (
    <section className="jp-mlws-runs" aria-label="Runs">
      <div className="jp-mlws-toolbar">
        <button
          className="jp-mod-styled jp-mlws-back"
          onClick={() => model.openExperiment(null)}
          aria-label="Back to the experiments"
          title="Back to the experiments"
        >
          ← Experiments
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={selected.length < 2}
          onClick={() => onCompare(selected)}
          title="Select two or more runs to compare them"
        >
          Compare ({selected.length})
        </button>
        <ColumnsMenu model={model} />
      </div>
      <h3 className="jp-mlws-run-title">{experiment?.name ?? `#${model.experimentId}`}</h3>
      <FilterBox model={model} />
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      <div className="jp-mlws-table-scroll">
        <table className="jp-mlws-grid jp-mlws-runs-table" aria-label="Runs table">
          <thead>
            <tr>
              <th scope="col">
                <span className="jp-mlws-sr-only">Select</span>
              </th>
              <SortHeader model={model} column="name" label="Name" />
              <SortHeader model={model} column="status" label="Status" />
              <SortHeader model={model} column="start_time" label="Start" />
              <th scope="col">Duration</th>
              {metrics.map(key => (
                <SortHeader key={key} model={model} column={`metrics.${key}`} label={key} />
              ))}
            </tr>
          </thead>
          <tbody>
            {model.runs.map(run => (
              <tr key={run.run_id} data-run-id={run.run_id} className={model.selection.has(run.run_id) ? 'jp-mod-selected' : ''}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${run.name}`}
                    checked={model.selection.has(run.run_id)}
                    onChange={() => model.toggleSelected(run.run_id)}
                  />
                </td>
                <th scope="row">
                  <button className="jp-mlws-linkish" onClick={() => onOpenRun(run.run_id)} title={`Open run ${run.name}`}>
                    {run.name}
                  </button>
                </th>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>{shortTime(run.start_time)}</td>
                <td>
                  <RunDuration run={run} />
                </td>
                {metrics.map(key => {
                  const value = run.metrics?.[key];
                  return <td key={key}>{value === undefined ? '' : formatMetric(value)}</td>;
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {model.runs.length === 0 && !model.loading && <p className="jp-mlws-muted">No runs yet.</p>}
      <div ref={end} />
      {model.loading && <div className="jp-mlws-loading">Loading runs…</div>}
      {model.nextPageToken !== null && !model.loading && (
        <button className="jp-mod-styled" onClick={() => void model.loadMore()}>
          Load more
        </button>
      )}
      <p className="jp-mlws-muted">
        {model.runs.length} run{model.runs.length === 1 ? '' : 's'} shown{model.nextPageToken ? ', more to load' : ''}
      </p>
    </section>
  );
}

function ExperimentList({ model }: { model: BrowserModel }): JSX.Element {
  const experiments = model.experiments;
  return (
    <section className="jp-mlws-experiments" aria-label="Experiments">
      <h3>Experiments</h3>
      {experiments === null ? (
        <div className="jp-mlws-loading">Loading experiments…</div>
      ) : experiments.length === 0 ? (
        <p className="jp-mlws-muted">No experiments yet. Start a run with %%mlrun or mlws.start_run().</p>
      ) : (
        <ul className="jp-mlws-experiment-list">
          {experiments.map(e => (
            <li key={e.experiment_id}>
              <button className="jp-mlws-linkish" onClick={() => model.openExperiment(e.experiment_id)}>
                {e.name}
              </button>{' '}
              <span className="jp-mlws-count" aria-label="runs">
                {model.counts.get(e.experiment_id) ?? ''}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The experiments list, or one experiment's runs table. */
export function WorkspaceBrowser(props: IBrowserProps): JSX.Element {
  return props.model.experimentId === null ? <ExperimentList model={props.model} /> : <RunsTable {...props} />;
}
