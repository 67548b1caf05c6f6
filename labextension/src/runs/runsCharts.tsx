/**
 * The charts of many runs: one chart per metric, a line per run (or per
 * group of runs), in the comparison view and an experiment's Charts view.
 * Decisions:
 * - One request for all runs and metrics (`GET /metrics/histories`), each
 *   metric's runs on one x grid of about the chart's width in bins (the
 *   server's mean per bin, with min/max): 100 runs × 10 metrics is one answer
 *   of a few hundred points per line, not 1,000 requests, and the lines need
 *   no joining in the browser. Changing the x axis asks again (bins of time).
 * - A run's colour is its place in `runs` (the table's selection order), the
 *   same in the table, the legend and every chart (common/runColours.ts).
 * - The min/max band of each binned line is drawn while a chart has at most
 *   `BAND_LINES` lines; past that, 100 overlapping bands would hide the lines.
 * - Grouping by a param or tag (W&B's grouping): one line per value, the mean
 *   of its runs with their min–max band; runs without the key form "(none)".
 */
import * as React from 'react';

import { IMetricGrid, IRunModel } from '../api/types';
import { ChartSync, IChartSettings } from '../common/chartCore';
import { groupLines, ILineData } from '../common/chartMath';
import { Chart, ChartSettingsBar, MetricSections, useChartSettings, usePins } from '../common/charts';
import { runColour, runColours } from '../common/runColours';
import { IMLWorkspace } from '../tokens';

export const BAND_LINES = 10;

/** The params and (user) tags of `runs`, as "params.x" / "tags.y" keys to group by. */
export function groupKeys(runs: IRunModel[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.params ?? {}).forEach(k => keys.add(`params.${k}`));
    Object.keys(run.tags ?? {})
      .filter(k => !k.startsWith('mlws.') && !k.startsWith('mlflow.'))
      .forEach(k => keys.add(`tags.${k}`));
  }
  return [...keys].sort();
}

/** The value of "params.x" / "tags.y" for a run, "(none)" when it lacks it. */
export function groupValue(run: IRunModel | undefined, key: string): string {
  const dot = key.indexOf('.');
  const kind = key.slice(0, dot);
  const name = key.slice(dot + 1);
  const table = kind === 'params' ? run?.params : kind === 'tags' ? run?.tags : undefined;
  const value = table?.[name];
  return value === undefined || value === null ? '(none)' : `${name} = ${value}`;
}

/** The lines of one metric's chart from the server's grid. */
export function linesOf(grid: IMetricGrid, runs: IRunModel[], groupBy: string | null): ILineData[] {
  const byId = new Map(runs.map(r => [r.run_id, r]));
  const colours = runColours(runs.map(r => r.run_id));
  const band = grid.binned && groupBy === null && grid.runs.length <= BAND_LINES;
  const lines: ILineData[] = grid.runs.map(r => ({
    id: r.run_id,
    label: byId.get(r.run_id)?.name ?? r.run_id,
    colour: colours.get(r.run_id) ?? runColour(0),
    x: grid.x,
    y: r.mean,
    lo: band ? r.min ?? undefined : undefined,
    hi: band ? r.max ?? undefined : undefined,
    total: r.total_points
  }));
  if (!groupBy) {
    return lines;
  }
  return groupLines(lines, line => groupValue(byId.get(line.id), groupBy), (_g, i) => runColour(i), 'minmax');
}

/** Bins per line: about one per two pixels of a chart's width. */
function binsFor(width: number): number {
  return Math.max(50, Math.min(2000, Math.round(width / 2)));
}

/** A chart's width in the charts grid (base.css: columns of at least 360 px, 12 px apart) of a `width` view. */
export function gridChartWidth(width: number): number {
  const columns = Math.max(1, Math.floor((width + 12) / (360 + 12)));
  return Math.max(200, (width - 12 * (columns - 1)) / columns);
}

/** Whether a measured chart width asks for enough more or fewer bins to fetch again (over 25 %). */
export function worthRefetch(before: number, after: number): boolean {
  const a = binsFor(before);
  const b = binsFor(after);
  return Math.abs(a - b) > 0.25 * a;
}

export function RunsCharts(props: {
  workspace: IMLWorkspace;
  /** The runs, in colour order. */
  runs: IRunModel[];
  /** Bumped by the owner to fetch again (new points). */
  version?: number;
  /** The group-by key from outside (the runs table's); the settings bar can change it. */
  groupBy?: string | null;
  onGroupBy?: (key: string | null) => void;
}): JSX.Element {
  const { workspace, runs } = props;
  const [settings, setSettings] = useChartSettings();
  const [pins, togglePin] = usePins();
  const [search, setSearch] = React.useState('');
  const [ownGroup, setOwnGroup] = React.useState<string | null>(null);
  const groupBy = props.groupBy !== undefined ? props.groupBy : ownGroup;
  const setGroup = (key: string | null) => (props.onGroupBy ? props.onGroupBy(key) : setOwnGroup(key));
  const [grids, setGrids] = React.useState<Map<string, IMetricGrid> | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  // The charts' width, estimated from the section's before the first fetch (so the first answer
  // has the bins the charts need), then measured; a small difference does not fetch again.
  const section = React.useRef<HTMLElement>(null);
  const [width, setWidth] = React.useState<number | null>(null);
  React.useLayoutEffect(() => {
    setWidth(w => w ?? gridChartWidth(section.current?.clientWidth || 800));
  }, []);
  const onWidth = React.useCallback((measured: number) => {
    const w = Math.min(4000, Math.max(100, Math.round(measured)));
    setWidth(before => (before === null || worthRefetch(before, w) ? w : before));
  }, []);
  const sync = React.useMemo(() => new ChartSync(), []);
  const runIds = runs.map(r => r.run_id);
  const keys = [...new Set(runs.flatMap(r => Object.keys(r.metrics ?? {})))];
  const bins = width === null ? null : binsFor(width);
  // A group's band is the spread of its runs' means (chartMath.groupLines), not their bins' min/max.
  const bands = groupBy === null && runs.length <= BAND_LINES;
  React.useEffect(() => {
    if (bins === null) {
      return;
    }
    if (!runIds.length || !keys.length) {
      setGrids(new Map());
      return;
    }
    let live = true;
    workspace.api
      .getMetricHistories(runIds, keys, { bins, x: settings.x, bands })
      .then(answer => {
        if (live) {
          setGrids(new Map(answer.metrics.map(m => [m.key, m])));
          setError(null);
        }
      })
      .catch(reason => live && setError(reason instanceof Error ? reason.message : String(reason)));
    return () => {
      live = false;
    };
  }, [runIds.join(','), keys.sort().join('\u0000'), bins, bands, settings.x, props.version]);
  const lines = React.useMemo(() => {
    const out = new Map<string, ILineData[]>();
    for (const [key, grid] of grids ?? []) {
      out.set(key, linesOf(grid, runs, groupBy));
    }
    return out;
  }, [grids, runs, groupBy]);
  const onSettings = (next: IChartSettings) => setSettings(next);
  const renderChart = (key: string) => {
    const grid = grids?.get(key);
    const chartLines = lines.get(key) ?? [];
    const note = grid
      ? `(${grid.runs.length} run${grid.runs.length === 1 ? '' : 's'}${grid.binned ? `, ${grid.x.length} bins` : ''})`
      : '';
    return (
      <Chart
        key={key}
        title={key}
        note={note}
        lines={chartLines}
        settings={settings}
        sync={sync}
        pinned={pins.includes(key)}
        onPin={p => togglePin(key, p)}
        onWidth={onWidth}
      />
    );
  };
  return (
    <section className="jp-mlws-run-section" aria-label="Metric charts" data-runs={runs.length} ref={section}>
      <h4>Metrics</h4>
      {error !== null && (
        <p className="jp-mlws-error" role="alert">
          The metrics could not be read: {error}
        </p>
      )}
      {keys.length === 0 && <p className="jp-mlws-muted">No metrics.</p>}
      {keys.length > 0 && (
        <ChartSettingsBar
          settings={settings}
          onChange={onSettings}
          sync={sync}
          search={{ value: search, onChange: setSearch }}
          group={{ keys: groupKeys(runs), value: groupBy, onChange: setGroup }}
        />
      )}
      {grids === null && keys.length > 0 ? (
        <div className="jp-mlws-loading">Loading the metrics of {runs.length} runs…</div>
      ) : (
        <MetricSections keys={keys} pins={pins} search={search} renderChart={renderChart} />
      )}
    </section>
  );
}
