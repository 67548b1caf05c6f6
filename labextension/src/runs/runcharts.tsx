/** A run's metric charts in the run view: downsampled, zoomable, live while the run runs. */
import * as React from 'react';

import { IRunModel } from '../api/types';
import { IChartSeries, MetricChart, sortMetricKeys, toNumber } from '../common/charts';
import { IMLWorkspace } from '../tokens';

/** While a run runs, its new metric points are fetched at most this often. */
const LIVE_INTERVAL_MS = 500;

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

export function Charts({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
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
