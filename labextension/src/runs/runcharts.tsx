/** A run's metric charts in the run view: downsampled, zoomable, live while the run runs. */
import * as React from 'react';

import { IRunModel } from '../api/types';
import {
  Chart,
  ChartSettingsBar,
  ChartSync,
  IChartSettings,
  IHistoryColumns,
  lineFromHistory,
  MetricSections,
  sortMetricKeys,
  useChartSettings,
  usePins
} from '../common/charts';
import { xColumn } from '../common/chartMath';
import { runColour } from '../common/runColours';
import { IMLWorkspace } from '../tokens';

/** While a run runs, its new metric points are fetched at most this often. */
const LIVE_INTERVAL_MS = 500;

interface IHistoryState {
  columns: IHistoryColumns & { timestamps: number[] };
  cursor: number;
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
        const b = before.columns;
        const columns = {
          steps: [...b.steps, ...answer.steps],
          timestamps: [...b.timestamps, ...answer.timestamps],
          values: [...b.values, ...answer.values],
          total_points: answer.total_points
        };
        next = { columns, cursor: answer.cursor };
        if (columns.steps.length > 2 * maxPoints) {
          void load(key);
        }
      } else {
        next = { columns: answer, cursor: answer.cursor };
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
 * on a time axis the window is turned into the steps logged inside it. A
 * double-click or "reset zoom" goes back to the whole (live) history.
 */
function ZoomableChart({
  workspace,
  run,
  metric,
  history,
  settings,
  sync,
  pinned,
  onPin,
  onWidth
}: {
  workspace: IMLWorkspace;
  run: IRunModel;
  metric: string;
  history: IHistoryState;
  settings: IChartSettings;
  sync: ChartSync;
  pinned: boolean;
  onPin: (pinned: boolean) => void;
  onWidth: (width: number) => void;
}): JSX.Element {
  const [detail, setDetail] = React.useState<IHistoryColumns | null>(null);
  const width = React.useRef(600);
  const ticket = React.useRef(0);
  const shown = detail ?? history.columns;
  const line = React.useMemo(
    () => lineFromHistory(shown, { id: `${run.run_id}/${metric}`, label: metric, colour: runColour(0) }, settings.x, run.start_time ?? null, width.current),
    [shown, settings.x, run.start_time]
  );
  const onZoom = (window: [number, number] | null) => {
    const mine = ++ticket.current;
    if (window === null) {
      setDetail(null);
      return;
    }
    const whole = history.columns;
    const x = xColumn(settings.x, whole.steps, whole.timestamps, run.start_time ?? null);
    const inside = whole.steps.filter((_, i) => x[i] >= window[0] && x[i] <= window[1]);
    const steps = settings.x === 'step' ? window : inside.length ? [Math.min(...inside), Math.max(...inside)] : null;
    if (!steps) {
      return;
    }
    workspace.api
      .getMetricHistory(run.run_id, metric, { maxPoints: width.current, minStep: steps[0], maxStep: steps[1] })
      .then(answer => {
        if (mine === ticket.current) {
          setDetail(answer);
        }
      })
      .catch(() => undefined);
  };
  const downsampled = history.columns.total_points > history.columns.steps.length;
  return (
    <Chart
      title={metric}
      note={detail ? '(zoomed: window detail)' : downsampled ? `(${history.columns.total_points} points, downsampled)` : ''}
      lines={[line]}
      settings={settings}
      sync={sync}
      onZoom={onZoom}
      pinned={pinned}
      onPin={onPin}
      onWidth={w => {
        width.current = Math.max(2, Math.round(w));
        onWidth(w);
      }}
    />
  );
}

export function Charts({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
  const keys = sortMetricKeys(Object.keys(run.metrics ?? {}));
  const [width, setWidth] = React.useState(600);
  const [settings, setSettings] = useChartSettings();
  const [pins, togglePin] = usePins();
  const [search, setSearch] = React.useState('');
  const sync = React.useMemo(() => new ChartSync(), [run.run_id]);
  const running = run.status === 'running' || run.status === 'queued';
  const histories = useHistories(workspace, run.run_id, keys, running, width);
  const renderChart = (key: string) => {
    const h = histories.get(key);
    return h ? (
      <ZoomableChart
        key={key}
        workspace={workspace}
        run={run}
        metric={key}
        history={h}
        settings={settings}
        sync={sync}
        pinned={pins.includes(key)}
        onPin={p => togglePin(key, p)}
        onWidth={w => setWidth(Math.min(4000, Math.max(100, Math.round(w))))}
      />
    ) : (
      <div key={key} className="jp-mlws-loading">
        Loading {key}…
      </div>
    );
  };
  return (
    <section className="jp-mlws-run-section" aria-label="Metric charts">
      <h4>Metrics</h4>
      {keys.length === 0 && <p className="jp-mlws-muted">No metrics yet.</p>}
      {keys.length > 0 && (
        <ChartSettingsBar settings={settings} onChange={setSettings} search={{ value: search, onChange: setSearch }} sync={sync} />
      )}
      <MetricSections keys={keys} pins={pins} search={search} renderChart={renderChart} />
    </section>
  );
}
