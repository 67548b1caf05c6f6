import * as React from 'react';

import { ChartControls, ChartSync, ChartView, DEFAULT_SETTINGS, IChartSettings } from './chartCore';
import { clampSmoothing, Column, ILineData, pointEnvelope, X_AXES, XAxis, xColumn } from './chartMath';
import { RUN_PALETTE } from './runColours';

/**
 * The panel's charts: React wrappers around the one chart component
 * (chartCore.ts, shared with the notebook widgets). Decisions:
 * - Histories come downsampled by the server (`max_points` ≈ the chart's
 *   width in pixels), so a million-point metric costs a few hundred points;
 *   a downsampled line gets its min/max band (`lineFromHistory`).
 * - A view (a run, a comparison, an experiment's charts) has one settings bar
 *   (`ChartSettingsBar`: smoothing, x axis, log y, search, group by) and one
 *   `ChartSync`; its settings are remembered in the browser's local storage,
 *   as W&B keeps a workspace's settings, and so are the pinned metrics
 *   (`usePins`), which every view shows first.
 * - `MetricSections` lays a view's charts out: pinned first, then the run's
 *   own metrics, then the `system/*` metrics in a folded section of their
 *   own; the search box keeps the metrics whose key contains its words.
 * - Non-finite values ("NaN", "Infinity" as the server sends them) are gaps.
 */


/** A palette readable on the light and dark themes (the runs' colours). */
export const SERIES_COLOURS = RUN_PALETTE;

/** Metric keys sorted, the server's own `system/*` metrics after the run's. */
export function sortMetricKeys(keys: Iterable<string>): string[] {
  const system = (k: string) => (k.startsWith('system/') ? 1 : 0);
  return [...keys].sort((a, b) => system(a) - system(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** A server value (number or "NaN"/"Infinity") as a number, or null for a gap. */
export function toNumber(value: number | string): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A metric history as the server sends it (columns). */
export interface IHistoryColumns {
  steps: number[];
  timestamps: number[];
  values: (number | string)[];
  total_points: number;
}

/**
 * A chart line from a history: x for the axis, gaps for non-finite values,
 * and, where the server downsampled it, the min/max band of each pixel bin.
 */
export function lineFromHistory(
  history: IHistoryColumns,
  line: { id: string; label: string; colour: string },
  axis: XAxis,
  startMs: number | null,
  width: number
): ILineData {
  const x = xColumn(axis, history.steps, history.timestamps, startMs);
  const y: Column = history.values.map(toNumber);
  const downsampled = history.total_points > history.steps.length;
  const band = downsampled ? pointEnvelope(x, y, Math.max(2, Math.round(width / 3))) : null;
  return { ...line, x, y, lo: band?.lo, hi: band?.hi, total: history.total_points };
}

const SETTINGS_KEY = 'jp-mlws:chart-settings';
const PINS_KEY = 'jp-mlws:pinned-metrics';

function readJson<T>(key: string, fallback: T): T {
  try {
    const text = window.localStorage.getItem(key);
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function writeJson(key: string, value: unknown): void {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or refused: the setting lasts for this page only
  }
}

/** The view's chart settings, remembered in local storage. */
export function useChartSettings(): [IChartSettings, (s: IChartSettings) => void] {
  const [settings, setSettings] = React.useState<IChartSettings>(() => {
    const saved = readJson<Partial<IChartSettings>>(SETTINGS_KEY, {});
    return {
      x: X_AXES.includes(saved.x as XAxis) ? (saved.x as XAxis) : DEFAULT_SETTINGS.x,
      smoothing: clampSmoothing(Number(saved.smoothing ?? 0)),
      logY: saved.logY === true
    };
  });
  const update = React.useCallback((next: IChartSettings) => {
    setSettings(next);
    writeJson(SETTINGS_KEY, next);
  }, []);
  return [settings, update];
}

/** Pinned metric keys (shown first in every view), remembered in local storage. */
export function usePins(): [string[], (key: string, pinned: boolean) => void] {
  const [pins, setPins] = React.useState<string[]>(() => readJson<string[]>(PINS_KEY, []).filter(k => typeof k === 'string'));
  const toggle = React.useCallback((key: string, pinned: boolean) => {
    setPins(before => {
      const next = pinned ? [...before.filter(k => k !== key), key] : before.filter(k => k !== key);
      writeJson(PINS_KEY, next);
      return next;
    });
  }, []);
  return [pins, toggle];
}

/** The view's settings bar (chartCore's `ChartControls`). */
export function ChartSettingsBar(props: {
  settings: IChartSettings;
  onChange: (s: IChartSettings) => void;
  search?: { value: string; onChange: (text: string) => void };
  group?: { keys: string[]; value: string | null; onChange: (key: string | null) => void };
  /** The view's charts: a smoothing move is drawn by them at once (`ChartSync.smooth`). */
  sync?: ChartSync;
}): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const controls = React.useRef<ChartControls | null>(null);
  const latest = React.useRef(props);
  latest.current = props;
  React.useEffect(() => {
    const node = host.current!;
    const c = new ChartControls(node, {
      settings: latest.current.settings,
      onChange: s => {
        if (s.smoothing !== latest.current.settings.smoothing) {
          latest.current.sync?.smooth(s.smoothing);
        }
        latest.current.onChange(s);
      },
      search: latest.current.search
        ? { value: latest.current.search.value, onChange: t => latest.current.search?.onChange(t) }
        : undefined,
      group: latest.current.group
        ? { keys: latest.current.group.keys, value: latest.current.group.value, onChange: k => latest.current.group?.onChange(k) }
        : undefined
    });
    controls.current = c;
    return () => {
      c.destroy();
      controls.current = null;
    };
  }, []);
  React.useEffect(() => {
    controls.current?.setSettings(props.settings);
  }, [props.settings]);
  const groupKeys = props.group?.keys.join('\u0000');
  React.useEffect(() => {
    if (props.group) {
      controls.current?.setGroupKeys(props.group.keys, props.group.value);
    }
  }, [groupKeys, props.group?.value]);
  return <div ref={host} className="jp-mlws-chart-settings" />;
}

export interface IChartProps {
  title: string;
  /** The note after the title ("20000 points, downsampled"). */
  note?: string;
  lines: ILineData[];
  settings: IChartSettings;
  sync?: ChartSync;
  height?: number;
  onZoom?: (window: [number, number] | null) => void;
  onWidth?: (width: number) => void;
  pinned?: boolean;
  onPin?: (pinned: boolean) => void;
}

/** One chart (chartCore's `ChartView`), fed new lines and settings in place. */
export function Chart(props: IChartProps): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const view = React.useRef<ChartView | null>(null);
  const latest = React.useRef(props);
  latest.current = props;
  React.useEffect(() => {
    const v = new ChartView(host.current!, {
      title: latest.current.title,
      height: latest.current.height,
      sync: latest.current.sync,
      onZoom: w => latest.current.onZoom?.(w),
      onWidth: w => latest.current.onWidth?.(w),
      pinned: latest.current.pinned,
      onPin: latest.current.onPin ? p => latest.current.onPin?.(p) : undefined
    });
    view.current = v;
    v.setSettings(latest.current.settings);
    v.setLines(latest.current.lines);
    latest.current.onWidth?.(v.width());
    return () => {
      v.destroy();
      view.current = null;
    };
  }, [props.sync]);
  React.useEffect(() => {
    view.current?.setTitle(props.title, props.note ?? '');
  }, [props.title, props.note]);
  React.useEffect(() => {
    view.current?.setSettings(props.settings);
  }, [props.settings]);
  React.useEffect(() => {
    view.current?.setLines(props.lines);
  }, [props.lines]);
  React.useEffect(() => {
    view.current?.setPinned(!!props.pinned, false);
  }, [props.pinned]);
  return <div ref={host} className="jp-mlws-chart-host" />;
}

/** Keys split for a view: pinned (in pin order), the run's own, and `system/*`; filtered by `search`. */
export function arrangeMetrics(keys: string[], pins: string[], search: string): { pinned: string[]; own: string[]; system: string[] } {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const match = (k: string) => words.every(w => k.toLowerCase().includes(w));
  const present = new Set(keys);
  const pinned = pins.filter(k => present.has(k) && match(k));
  const rest = sortMetricKeys(keys.filter(k => !pinned.includes(k) && match(k)));
  return { pinned, own: rest.filter(k => !k.startsWith('system/')), system: rest.filter(k => k.startsWith('system/')) };
}

/** A view's charts laid out: pinned, own metrics, then a folded "System metrics" section. */
export function MetricSections(props: {
  keys: string[];
  pins: string[];
  search: string;
  renderChart: (key: string) => JSX.Element;
}): JSX.Element {
  const { pinned, own, system } = arrangeMetrics(props.keys, props.pins, props.search);
  const none = !pinned.length && !own.length && !system.length;
  return (
    <>
      {none && props.keys.length > 0 && <p className="jp-mlws-muted">No metric matches “{props.search}”.</p>}
      {pinned.length > 0 && (
        <section className="jp-mlws-chart-section" aria-label="Pinned metrics">
          <h5>Pinned</h5>
          <div className="jp-mlws-charts">{pinned.map(props.renderChart)}</div>
        </section>
      )}
      {own.length > 0 && <div className="jp-mlws-charts">{own.map(props.renderChart)}</div>}
      {system.length > 0 && (
        <details className="jp-mlws-chart-section" aria-label="System metrics" open={props.search !== '' || undefined}>
          <summary>System metrics ({system.length})</summary>
          <div className="jp-mlws-charts">{system.map(props.renderChart)}</div>
        </details>
      )}
    </>
  );
}

export type { ILineData, IChartSettings };
export { ChartSync };
