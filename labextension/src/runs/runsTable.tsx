import * as React from 'react';

import { IRunModel } from '../api/types';
import { BrowserModel } from './browserModel';
import { ColumnsMenu, FilterBox } from './filterBar';
import { groupRuns, IRunRow } from './runGroups';
import { formatDuration, formatMetric, KNOWN_STATUSES } from './runformat';

/**
 * One experiment's runs table (browser.tsx shows it): the toolbar (back,
 * Compare, the Columns menu), the filter, sortable columns, a checkbox per
 * run, and paging ("Load more", or scrolling to the end). A sweep's trials
 * are grouped under the sweep's row, which folds them (runGroups.ts).
 */

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

/** The name cell: a sweep's fold button and trial count, a trial indented under its sweep. */
function NameCell({ model, row, onOpenRun }: { model: BrowserModel; row: IRunRow; onOpenRun: (runId: string) => void }): JSX.Element {
  const run = row.run;
  const open = (
    <button className="jp-mlws-linkish" onClick={() => onOpenRun(run.run_id)} title={`Open run ${run.name}`}>
      {run.name}
    </button>
  );
  if (row.trials === 0) {
    return <th scope="row" className={row.depth ? 'jp-mlws-run-trial' : undefined}>{open}</th>;
  }
  const what = `the ${row.trials} trial${row.trials === 1 ? '' : 's'} of ${run.name}`;
  return (
    <th scope="row" className="jp-mlws-run-sweep-name">
      <button
        className="jp-mlws-fold"
        aria-expanded={row.expanded}
        aria-label={`${row.expanded ? 'Hide' : 'Show'} ${what}`}
        title={`${row.expanded ? 'Hide' : 'Show'} ${what}`}
        onClick={() => model.toggleSweep(run.run_id)}
      >
        {row.expanded ? '▾' : '▸'}
      </button>
      {open} <span className="jp-mlws-muted">({row.trials} trials)</span>
    </th>
  );
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

export function RunsTable({ model, onOpenRun, onCompare }: IBrowserProps): JSX.Element {
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
            {groupRuns(model.runs, model.collapsedSweeps).map(({ run, depth }, index, rows) => (
              <tr
                key={run.run_id}
                data-run-id={run.run_id}
                data-sweep-trial={depth ? run.parent_run_id ?? '' : undefined}
                className={[
                  model.selection.has(run.run_id) ? 'jp-mod-selected' : '',
                  depth ? 'jp-mlws-run-trial-row' : ''
                ].join(' ').trim()}
              >
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${run.name}`}
                    checked={model.selection.has(run.run_id)}
                    onChange={() => model.toggleSelected(run.run_id)}
                  />
                </td>
                <NameCell model={model} row={rows[index]} onOpenRun={onOpenRun} />
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
