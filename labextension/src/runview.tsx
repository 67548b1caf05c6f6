import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { MLWorkspaceAPIError } from './api/client';
import { IArtifactInfo, IRunEvent, IRunModel } from './api/types';
import { Row } from './components';
import { IChartSeries, MetricChart, sortMetricKeys, toNumber } from './charts';
import { IMLWorkspace } from './tokens';

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

/** Statuses that have a colour of their own in the stylesheet. */
export const KNOWN_STATUSES = ['queued', 'running', 'completed', 'failed', 'killed', 'canceled'];

/** `1234` -> "1.2 s"; `754000` -> "12 min 34 s"; `7260000` -> "2 h 1 min". */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, ms);
  if (clamped < 1000) {
    return `${Math.round(clamped)} ms`;
  }
  const seconds = clamped / 1000;
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.floor(seconds)} s`;
  }
  const whole = Math.floor(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${whole % 60} s`;
}

export function formatTime(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toLocaleString();
}

export function formatMetric(value: number | string): string {
  if (typeof value !== 'number') {
    return value; // "NaN", "Infinity", "-Infinity" as the server sends them
  }
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** The run's duration; ticks every second while the run has no end time. */
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


/** Artifacts shown as text (the others are listed; images and tables preview as such). */
const TEXT_EXTENSIONS = ['.txt', '.log', '.py', '.md', '.yaml', '.yml', '.toml', '.cfg', '.ini', '.sh', '.r'];
const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.gif', '.webp'];
/** Previews read at most this much text. */
const PREVIEW_BYTES = 256 * 1024;
/** Table previews show at most this many rows. */
const PREVIEW_ROWS = 100;
/** The log tail shows this many lines. */
const LOG_LINES = 200;
/** While a run runs, its new metric points are fetched at most this often. */
const LIVE_INTERVAL_MS = 500;

function extensionOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(dot).toLowerCase();
}

/** A small CSV parser (quoted fields, doubled quotes); previews only. */
export function parseCsv(text: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
      }
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** JSON as table rows when it is a list of objects (or an object of columns); else null. */
export function jsonTable(value: unknown, maxRows: number): string[][] | null {
  const cell = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  if (Array.isArray(value) && value.length > 0 && value.every(v => v && typeof v === 'object' && !Array.isArray(v))) {
    const columns = [...new Set(value.flatMap(v => Object.keys(v as object)))];
    return [
      columns,
      ...value.slice(0, maxRows).map(v => columns.map(c => cell((v as Record<string, unknown>)[c])))
    ];
  }
  return null;
}

function SimpleTable({ rows, label }: { rows: string[][]; label: string }): JSX.Element {
  const [head, ...body] = rows;
  return (
    <div className="jp-mlws-table-scroll">
      <table className="jp-mlws-grid" aria-label={label}>
        <thead>
          <tr>
            {(head ?? []).map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((r, i) => (
            <tr key={i}>
              {r.map((c, j) => (
                <td key={j}>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type Preview =
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'image'; url: string }
  | { kind: 'table'; rows: string[][] }
  | { kind: 'none'; message: string };

async function readText(response: Response): Promise<{ text: string; truncated: boolean }> {
  const blob = await response.blob();
  const truncated = blob.size > PREVIEW_BYTES;
  return { text: await blob.slice(0, PREVIEW_BYTES).text(), truncated };
}

/** Fetch and shape an artifact's preview. */
async function loadPreview(workspace: IMLWorkspace, runId: string, artifact: IArtifactInfo): Promise<Preview> {
  const ext = extensionOf(artifact.path);
  if (IMAGE_EXTENSIONS.includes(ext)) {
    const response = await workspace.api.downloadArtifact(runId, artifact.path, true);
    return { kind: 'image', url: URL.createObjectURL(await response.blob()) };
  }
  if (ext === '.csv' || ext === '.tsv') {
    const { text } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    const rows =
      ext === '.tsv'
        ? text.split(/\r?\n/).filter(Boolean).slice(0, PREVIEW_ROWS + 1).map(l => l.split('\t'))
        : parseCsv(text, PREVIEW_ROWS + 1);
    return { kind: 'table', rows };
  }
  if (ext === '.json') {
    const { text, truncated } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    if (!truncated) {
      try {
        const table = jsonTable(JSON.parse(text), PREVIEW_ROWS);
        if (table) {
          return { kind: 'table', rows: table };
        }
        return { kind: 'text', text: JSON.stringify(JSON.parse(text), null, 2), truncated };
      } catch {
        // shown as text below
      }
    }
    return { kind: 'text', text, truncated };
  }
  if (TEXT_EXTENSIONS.includes(ext) || artifact.size < 64 * 1024) {
    const { text, truncated } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    if (!text.includes('\u0000')) {
      return { kind: 'text', text, truncated };
    }
  }
  return { kind: 'none', message: 'No preview for this kind of file.' };
}

function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  if (size < 1024 * 1024) {
    return `${(size / 1024).toFixed(1)} KiB`;
  }
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

function PreviewView({ preview }: { preview: Preview }): JSX.Element {
  switch (preview.kind) {
    case 'image':
      return <img className="jp-mlws-preview-image" src={preview.url} alt="Artifact preview" />;
    case 'table':
      return <SimpleTable rows={preview.rows} label="Artifact preview" />;
    case 'text':
      return (
        <pre className="jp-mlws-code" aria-label="Artifact preview">
          {preview.text}
          {preview.truncated ? '\n… (preview cut)' : ''}
        </pre>
      );
    default:
      return <p className="jp-mlws-muted">{preview.message}</p>;
  }
}

/** A run's files; clicking one previews it below the list. */
function Artifacts({
  workspace,
  runId,
  artifacts
}: {
  workspace: IMLWorkspace;
  runId: string;
  artifacts: IArtifactInfo[];
}): JSX.Element {
  const [selected, setSelected] = React.useState<string | null>(null);
  const [preview, setPreview] = React.useState<Preview | null>(null);
  React.useEffect(() => {
    if (selected === null) {
      return;
    }
    const artifact = artifacts.find(a => a.path === selected);
    if (!artifact) {
      return;
    }
    let live = true;
    let url: string | null = null;
    setPreview(null);
    loadPreview(workspace, runId, artifact)
      .then(p => {
        url = p.kind === 'image' ? p.url : null;
        if (live) {
          setPreview(p);
        } else if (url) {
          URL.revokeObjectURL(url);
        }
      })
      .catch(reason => live && setPreview({ kind: 'none', message: String(reason?.message ?? reason) }));
    return () => {
      live = false;
      if (url) {
        URL.revokeObjectURL(url);
      }
    };
  }, [selected, runId]);
  return (
    <section className="jp-mlws-run-section" aria-label="Artifacts">
      <h4>Artifacts</h4>
      {artifacts.length === 0 ? (
        <p className="jp-mlws-muted">No artifacts.</p>
      ) : (
        <ul className="jp-mlws-artifacts">
          {artifacts.map(a => (
            <li key={a.path}>
              <button
                className={`jp-mlws-linkish${a.path === selected ? ' jp-mod-selected' : ''}`}
                aria-pressed={a.path === selected}
                onClick={() => setSelected(a.path === selected ? null : a.path)}
              >
                {a.path}
              </button>{' '}
              <span className="jp-mlws-muted">{formatBytes(a.size)}</span>
            </li>
          ))}
        </ul>
      )}
      {selected !== null && (
        <div className="jp-mlws-preview" aria-label={`Preview of ${selected}`} role="region">
          {preview === null ? <div className="jp-mlws-loading">Loading…</div> : <PreviewView preview={preview} />}
        </div>
      )}
    </section>
  );
}

/** A text artifact fetched whole (logs tail, code); refetched when `version` changes. */
function useArtifactText(
  workspace: IMLWorkspace,
  runId: string,
  path: string,
  present: boolean,
  version: unknown
): string | null {
  const [text, setText] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (!present) {
      setText(null);
      return;
    }
    let live = true;
    workspace.api
      .downloadArtifact(runId, path)
      .then(r => r.text())
      .then(t => live && setText(t))
      .catch(() => live && setText(null));
    return () => {
      live = false;
    };
  }, [runId, path, present, version]);
  return text;
}

interface IHistoryState {
  series: IChartSeries;
  cursor: number;
  total: number;
}

/**
 * The histories of a run's metrics, fetched downsampled to about the chart's
 * width and kept live while the run is running: new points (`since=cursor`)
 * are appended at most every 0.5 s; when the appended points grow past twice
 * the budget, the whole history is fetched downsampled again.
 */
function useHistories(
  workspace: IMLWorkspace,
  runId: string,
  keys: string[],
  running: boolean,
  maxPoints: number
): Map<string, IHistoryState> {
  const [histories, setHistories] = React.useState<Map<string, IHistoryState>>(new Map());
  const state = React.useRef(histories);
  const keyList = keys.join('\u0000');
  const load = React.useCallback(
    async (key: string, since?: number) => {
      const answer = await workspace.api.getMetricHistory(runId, key, { maxPoints, since });
      const before = state.current.get(key);
      let next: IHistoryState;
      if (since !== undefined && before) {
        if (answer.steps.length === 0) {
          return;
        }
        const x = [...before.series.x, ...answer.steps];
        const y = [...before.series.y, ...answer.values.map(toNumber)];
        next = { series: { label: key, x, y }, cursor: answer.cursor, total: answer.total_points };
        if (x.length > 2 * maxPoints) {
          void load(key);
        }
      } else {
        next = {
          series: { label: key, x: answer.steps, y: answer.values.map(toNumber) },
          cursor: answer.cursor,
          total: answer.total_points
        };
      }
      state.current = new Map(state.current).set(key, next);
      setHistories(state.current);
    },
    [runId, maxPoints]
  );
  React.useEffect(() => {
    for (const key of keys) {
      if (!state.current.has(key)) {
        void load(key).catch(() => undefined);
      }
    }
  }, [keyList, load]);
  React.useEffect(() => {
    if (!running) {
      // One last catch-up once the run has ended.
      for (const [key, h] of state.current) {
        void load(key, h.cursor).catch(() => undefined);
      }
      return;
    }
    let busy = false;
    const timer = window.setInterval(() => {
      if (busy) {
        return;
      }
      busy = true;
      Promise.all([...state.current].map(([key, h]) => load(key, h.cursor).catch(() => undefined))).finally(
        () => (busy = false)
      );
    }, LIVE_INTERVAL_MS);
    return () => window.clearInterval(timer);
  }, [running, load]);
  return histories;
}

/**
 * One metric's chart in the run view. Zooming (drag a window) fetches the
 * window's detail from the server (`min_step`/`max_step`, downsampled to the
 * chart's width), so a million-point history shows every spike of the window;
 * a double-click goes back to the whole (live) history.
 */
function ZoomableChart({
  workspace,
  runId,
  metric,
  history,
  onWidth
}: {
  workspace: IMLWorkspace;
  runId: string;
  metric: string;
  history: IHistoryState;
  onWidth: (width: number) => void;
}): JSX.Element {
  const [detail, setDetail] = React.useState<IChartSeries | null>(null);
  const width = React.useRef(600);
  const ticket = React.useRef(0);
  const onZoom = (window: [number, number] | null) => {
    const mine = ++ticket.current;
    if (window === null) {
      setDetail(null);
      return;
    }
    workspace.api
      .getMetricHistory(runId, metric, { maxPoints: width.current, minStep: window[0], maxStep: window[1] })
      .then(answer => {
        if (mine === ticket.current) {
          setDetail({ label: metric, x: answer.steps, y: answer.values.map(toNumber) });
        }
      })
      .catch(() => undefined);
  };
  const downsampled = history.total > history.series.x.length;
  return (
    <MetricChart
      title={detail ? `${metric} (zoomed: window detail)` : downsampled ? `${metric} (${history.total} points, downsampled)` : metric}
      ariaLabel={`Chart of ${metric}`}
      series={[detail ?? history.series]}
      onZoom={onZoom}
      onWidth={w => {
        width.current = Math.max(2, Math.round(w));
        onWidth(w);
      }}
    />
  );
}

function Charts({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
  const keys = sortMetricKeys(Object.keys(run.metrics ?? {}));
  const [width, setWidth] = React.useState(600);
  const running = run.status === 'running' || run.status === 'queued';
  const histories = useHistories(workspace, run.run_id, keys, running, width);
  return (
    <section className="jp-mlws-run-section" aria-label="Metric charts">
      <h4>Metrics</h4>
      {keys.length === 0 && <p className="jp-mlws-muted">No metrics yet.</p>}
      <div className="jp-mlws-charts">
        {keys.map(key => {
          const h = histories.get(key);
          return h ? (
            <ZoomableChart
              key={key}
              workspace={workspace}
              runId={run.run_id}
              metric={key}
              history={h}
              onWidth={w => setWidth(Math.min(4000, Math.max(100, Math.round(w))))}
            />
          ) : (
            <div key={key} className="jp-mlws-loading">
              Loading {key}…
            </div>
          );
        })}
      </div>
    </section>
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
