import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { MLWorkspaceAPIError } from './api/client';
import { IArtifactInfo, IRunEvent, IRunModel } from './api/types';
import { Row } from './components';
import { Artifacts, LOG_LINES, useArtifactText } from './runartifacts';
import { Charts } from './runcharts';
import { formatDuration, formatMetric, formatTime, KNOWN_STATUSES } from './runformat';
import { IMLWorkspace } from './tokens';

export { formatDuration, formatMetric, formatTime, KNOWN_STATUSES } from './runformat';

/**
 * The run view of the sidebar panel: one run's name, live status, timing,
 * source, params, tags and latest metrics.
 *
 * Opened by the `mlws:open-run` command (the run card of a `%%mlrun` cell
 * links to it). Decisions:
 * - The model fetches through `IMLWorkspace.api` (the one API client) and
 *   refetches the whole run when a run event for it arrives (status changed,
 *   metrics appended, or a `resync`). Reloads are coalesced: while one request
 *   is in flight, further events mark the run stale and one more request
 *   follows, so a burst of metric events costs at most two requests and the
 *   last answer is never older than the last event.
 * - The experiment's name is fetched once per experiment id (a run's GET does
 *   not carry it).
 * - Errors (an unknown run answers 404) are shown in the view as the
 *   server's message, in a `role="alert"` box; the view never throws.
 * - A running run's duration ticks every second on the client; finished runs
 *   show `end - start`.
 * - Everything is rendered as text: names, params and tags are user input.
 */
export class RunViewModel {
  constructor(
    private readonly _workspace: IMLWorkspace,
    readonly runId: string
  ) {
    this.workspace = _workspace;
    _workspace.runEvents.connect(this._onRunEvent, this);
  }

  /** The workspace the run is read from. */
  readonly workspace: IMLWorkspace;

  /** The run as last fetched, or null before the first answer (or after a 404). */
  get run(): IRunModel | null {
    return this._run;
  }

  /** The name of the run's experiment, or null while unknown. */
  get experimentName(): string | null {
    return this._experimentName;
  }

  /** The last error met while fetching the run, or null. */
  get error(): string | null {
    return this._error;
  }

  /** True until the first answer (run or error) arrived. */
  get loading(): boolean {
    return this._run === null && this._error === null;
  }

  /** Emitted whenever `run`, `experimentName` or `error` changes. */
  get changed(): ISignal<RunViewModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._workspace.runEvents.disconnect(this._onRunEvent, this);
    Signal.clearData(this);
  }

  /** Fetch the run again (coalesced with a request already in flight). */
  reload(): Promise<void> {
    if (this._inFlight !== null) {
      this._stale = true;
      return this._inFlight;
    }
    this._inFlight = this._load().finally(() => {
      this._inFlight = null;
      if (this._stale && !this._isDisposed) {
        this._stale = false;
        void this.reload();
      }
    });
    return this._inFlight;
  }

  private async _load(): Promise<void> {
    const api = this._workspace.api;
    try {
      const run = await api.getRun(this.runId);
      if (this._isDisposed) {
        return;
      }
      if (run.experiment_id !== this._experimentId) {
        this._experimentId = run.experiment_id;
        this._experimentName = null;
        try {
          this._experimentName = (await api.getExperiment(run.experiment_id)).name;
        } catch {
          // The experiment's id stays visible; its name is a nicety.
        }
      }
      this._run = run;
      this._error = null;
    } catch (reason) {
      if (reason instanceof MLWorkspaceAPIError && reason.status === 404) {
        this._run = null;
      }
      this._error = reason instanceof Error ? reason.message : String(reason);
    }
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _onRunEvent(_: IMLWorkspace, event: IRunEvent): void {
    if (event.run_id === this.runId || event.action === 'resync') {
      void this.reload();
    }
  }

  private _run: IRunModel | null = null;
  private _experimentId: number | null = null;
  private _experimentName: string | null = null;
  private _error: string | null = null;
  private _inFlight: Promise<void> | null = null;
  private _stale = false;
  private _isDisposed = false;
  private _changed = new Signal<RunViewModel, void>(this);
}

function Duration({ run }: { run: IRunModel }): JSX.Element {
  const [now, setNow] = React.useState(() => Date.now());
  const open = run.start_time !== null && run.end_time === null;
  React.useEffect(() => {
    if (!open) {
      return;
    }
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [open]);
  let text = '—';
  if (run.start_time !== null) {
    const end = run.end_time ?? now;
    text = formatDuration(end - run.start_time) + (open ? ' so far' : '');
  }
  return <Row label="Duration" value={text} />;
}

/** Text that may wrap after `/`, `_`, `.` and `-` (metric and tag keys in a narrow panel). */
function Breakable({ text }: { text: string }): JSX.Element {
  const parts = text.split(/(?<=[/_.-])/);
  return (
    <>
      {parts.map((part, i) => (
        <React.Fragment key={i}>
          {i > 0 && <wbr />}
          {part}
        </React.Fragment>
      ))}
    </>
  );
}

interface IKeyValueProps {
  title: string;
  entries: [string, string][];
  empty: string;
}

/** A titled two-column table (params, metrics, tags); keys sorted. */
export function KeyValues({ title, entries, empty }: IKeyValueProps): JSX.Element {
  const id = `jp-mlws-run-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return (
    <section className="jp-mlws-run-section" aria-labelledby={id}>
      <h4 id={id}>{title}</h4>
      {sorted.length === 0 ? (
        <p className="jp-mlws-muted">{empty}</p>
      ) : (
        <table className="jp-mlws-kv" aria-labelledby={id}>
          <tbody>
            {sorted.map(([key, value]) => (
              <tr key={key}>
                <th scope="row" title={key}>
                  <Breakable text={key} />
                </th>
                <td title={value}>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunDetails({
  model,
  run,
  onGoToCell
}: {
  model: RunViewModel;
  run: IRunModel;
  onGoToCell?: (notebookPath: string, cellId: string | null) => void;
}): JSX.Element {
  const statusClass = KNOWN_STATUSES.includes(run.status) ? run.status : 'other';
  const experiment = model.experimentName ?? `#${run.experiment_id}`;
  const source = run.compute_target ? `${run.source_kind} · ${run.compute_target}` : run.source_kind;
  return (
    <>
      <h3 className="jp-mlws-run-title" title={run.name}>
        {run.name}
      </h3>
      <p className="jp-mlws-run-status-line">
        <span className="jp-mlws-label" id="jp-mlws-run-status-label">
          Status
        </span>{' '}
        <span
          className={`jp-mlws-status jp-mlws-status-${statusClass}`}
          role="status"
          aria-labelledby="jp-mlws-run-status-label"
          data-status={run.status}
        >
          {run.status}
        </span>
      </p>
      {run.status_reason && <p className="jp-mlws-run-reason">{run.status_reason}</p>}
      <dl className="jp-mlws-info" aria-label="Run details">
        <Row label="Experiment" value={experiment} />
        <Row label="Started" value={formatTime(run.start_time)} />
        <Row label="Ended" value={formatTime(run.end_time)} />
        <Duration run={run} />
        <Row label="Source" value={source} />
        {run.notebook_path && <Row label="Notebook" value={run.notebook_path} />}
        {run.notebook_path && onGoToCell && (
          <div className="jp-mlws-row">
            <button
              className="jp-mod-styled jp-mlws-goto"
              onClick={() => onGoToCell(run.notebook_path as string, run.cell_id ?? null)}
              title="Open the notebook at the cell that made this run"
            >
              Go to cell
            </button>
          </div>
        )}
        {run.cell_id && <Row label="Cell" value={run.cell_id} />}
        {run.parent_run_id && <Row label="Parent run" value={run.parent_run_id} />}
        <Row label="Run id" value={run.run_id} />
      </dl>
      <KeyValues title="Parameters" entries={Object.entries(run.params ?? {})} empty="No parameters." />
      <KeyValues
        title="Latest metrics"
        entries={Object.entries(run.metrics ?? {}).map(([k, v]) => [k, formatMetric(v)])}
        empty="No metrics yet."
      />
      <KeyValues title="Tags" entries={Object.entries(run.tags ?? {})} empty="No tags." />
    </>
  );
}


function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : lines.slice(-count).join('\n');
}

/** Everything the main-area run view shows below the run's details. */
function RunBody({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
  const [artifacts, setArtifacts] = React.useState<IArtifactInfo[]>([]);
  const running = run.status === 'running' || run.status === 'queued';
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let live = true;
    workspace.api
      .listArtifacts(run.run_id)
      .then(list => live && setArtifacts(list.artifacts))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [run.run_id, run.status, tick]);
  // The log is rewritten about once a second while the cell runs.
  React.useEffect(() => {
    if (!running) {
      return;
    }
    const timer = window.setInterval(() => setTick(t => t + 1), 2000);
    return () => window.clearInterval(timer);
  }, [running]);
  const has = (path: string) => artifacts.some(a => a.path === path);
  const log = useArtifactText(workspace, run.run_id, 'logs/output.txt', has('logs/output.txt'), `${tick}/${run.status}`);
  const cell = useArtifactText(workspace, run.run_id, 'code/cell.py', has('code/cell.py'), run.status);
  const history = useArtifactText(workspace, run.run_id, 'snapshot/history.py', has('snapshot/history.py'), run.status);
  return (
    <>
      <Charts workspace={workspace} run={run} />
      <section className="jp-mlws-run-section" aria-label="Log">
        <h4>Log</h4>
        {log === null ? (
          <p className="jp-mlws-muted">No log.</p>
        ) : (
          <pre className="jp-mlws-code jp-mlws-log">{lastLines(log, LOG_LINES)}</pre>
        )}
      </section>
      <Artifacts workspace={workspace} runId={run.run_id} artifacts={artifacts} />
      {(cell !== null || history !== null) && (
        <section className="jp-mlws-run-section" aria-label="Code">
          <h4>Code</h4>
          {cell !== null && (
            <>
              <h5>The cell (code/cell.py)</h5>
              <pre className="jp-mlws-code" aria-label="Cell code">
                {cell}
              </pre>
            </>
          )}
          {history !== null && (
            <details>
              <summary>The kernel's history up to the cell (snapshot/history.py)</summary>
              <pre className="jp-mlws-code" aria-label="Kernel history">
                {history}
              </pre>
            </details>
          )}
        </section>
      )}
    </>
  );
}

export interface IRunPageProps {
  model: RunViewModel;
  onGoToCell?: (notebookPath: string, cellId: string | null) => void;
}

/** The whole run view (main area): details, params, charts, log, artifacts, code. */
export function RunPage({ model, onGoToCell }: IRunPageProps): JSX.Element {
  const run = model.run;
  return (
    <section className="jp-mlws-runview" aria-label={run ? `Run ${run.name}` : 'Run'}>
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <strong>The run {model.runId} could not be shown.</strong>
          <p>{model.error}</p>
          <button className="jp-mod-styled jp-mod-accept" onClick={() => void model.reload()}>
            Try again
          </button>
        </div>
      )}
      {model.loading && <div className="jp-mlws-loading">Loading run {model.runId}…</div>}
      {run !== null && (
        <div className="jp-mlws-runpage-columns">
          <div className="jp-mlws-runpage-side">
            <RunDetails model={model} run={run} onGoToCell={onGoToCell} />
          </div>
          <div className="jp-mlws-runpage-main">
            <RunBody workspace={model.workspace} run={run} />
          </div>
        </div>
      )}
    </section>
  );
}

/** The content of the main-area run widget (`mlws:open-run`). */
export class RunWidget extends ReactWidget {
  constructor(
    readonly model: RunViewModel,
    private readonly _onGoToCell?: (notebookPath: string, cellId: string | null) => void
  ) {
    super();
    this.addClass('jp-mlws-runpage');
    void model.reload();
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <RunPage model={this.model} onGoToCell={this._onGoToCell} />}
      </UseSignal>
    );
  }
}
