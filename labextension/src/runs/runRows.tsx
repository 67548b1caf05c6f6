import * as React from 'react';

import { IRunModel } from '../api/types';
import { BrowserModel } from './browserModel';
import { formatCell, runDuration } from './runColumns';
import { IRunGroup, IRunRow } from './runGroups';
import { formatDuration, KNOWN_STATUSES } from './runformat';

/**
 * The rows of the runs table (runsTable.tsx): a run's row (its selection
 * checkbox with the run's chart colour, its name with the fold of its
 * children, status, times and the chosen columns), and a group's header row.
 */

function StatusBadge({ status }: { status: string }): JSX.Element {
  const cls = KNOWN_STATUSES.includes(status) ? status : 'other';
  return (
    <span className={`jp-mlws-status jp-mlws-status-${cls}`} data-status={status}>
      {status}
    </span>
  );
}

/** The run's duration; ticks every second while the run has no end time. */
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
  const ms = runDuration(run, now);
  return <>{ms === null ? '—' : formatDuration(ms)}</>;
}

function shortTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '—';
  }
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/** Indentation of a child's name cell, one step a level. */
function indent(depth: number): React.CSSProperties | undefined {
  return depth > 0 ? { paddingLeft: `${6 + depth * 18}px` } : undefined;
}

/** The name cell: a parent's fold button and child count, a child indented under its parent. */
function NameCell({ model, row, onOpenRun }: { model: BrowserModel; row: IRunRow; onOpenRun: (runId: string) => void }): JSX.Element {
  const run = row.run;
  const open = (
    <button className="jp-mlws-linkish" onClick={() => onOpenRun(run.run_id)} title={`Open run ${run.name}`}>
      {run.name}
    </button>
  );
  if (row.children === 0) {
    return (
      <th scope="row" className={row.depth ? 'jp-mlws-run-trial' : undefined} style={indent(row.depth)}>
        {open}
      </th>
    );
  }
  const noun = row.sweep ? (row.children === 1 ? 'trial' : 'trials') : row.children === 1 ? 'child run' : 'child runs';
  const what = `the ${row.children} ${noun} of ${run.name}`;
  const action = `${row.expanded ? 'Hide' : 'Show'} ${what}`;
  return (
    <th
      scope="row"
      className={`jp-mlws-run-sweep-name${row.depth ? ' jp-mlws-run-trial' : ''}`}
      style={indent(row.depth)}
    >
      <button
        className="jp-mlws-fold"
        aria-expanded={row.expanded}
        aria-label={action}
        title={action}
        onClick={() => model.toggleParent(run.run_id)}
      >
        {row.expanded ? '▾' : '▸'}
      </button>
      {open}{' '}
      <span className="jp-mlws-muted">
        ({row.children} {noun})
      </span>
    </th>
  );
}

export interface IRunRowProps {
  model: BrowserModel;
  row: IRunRow;
  columns: string[];
  /** The run's colour in the charts while it is selected. */
  colour: string | undefined;
  onOpenRun: (runId: string) => void;
}

export function RunRow({ model, row, columns, colour, onOpenRun }: IRunRowProps): JSX.Element {
  const run = row.run;
  const selected = colour !== undefined;
  return (
    <tr
      data-run-id={run.run_id}
      data-parent-run-id={row.depth ? run.parent_run_id ?? '' : undefined}
      data-depth={row.depth}
      className={[selected ? 'jp-mod-selected' : '', row.depth ? 'jp-mlws-run-trial-row' : ''].join(' ').trim()}
    >
      <td className="jp-mlws-select-cell">
        <input
          type="checkbox"
          aria-label={`Select ${run.name}`}
          checked={selected}
          onChange={() => model.toggleSelected(run.run_id)}
        />
        {selected ? (
          <span
            className="jp-mlws-swatch"
            role="img"
            aria-label={`colour of ${run.name} in charts`}
            title={`The colour of ${run.name} in the charts`}
            data-colour={colour}
            style={{ backgroundColor: colour }}
          />
        ) : (
          <span className="jp-mlws-swatch jp-mlws-swatch-empty" aria-hidden="true" />
        )}
      </td>
      <NameCell model={model} row={row} onOpenRun={onOpenRun} />
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td>{shortTime(run.start_time)}</td>
      <td>
        <RunDuration run={run} />
      </td>
      {columns.map(column => {
        const text = formatCell(run, column);
        return (
          <td key={column} title={text.length > 24 ? text : undefined}>
            {text}
          </td>
        );
      })}
    </tr>
  );
}

/** A group's header row: its fold button, "key = value" and how many loaded runs it has. */
export function GroupHeader({ model, group, span }: { model: BrowserModel; group: IRunGroup; span: number }): JSX.Element {
  const action = `${group.expanded ? 'Hide' : 'Show'} the ${group.count} run${group.count === 1 ? '' : 's'} of ${group.label}`;
  return (
    <tr className="jp-mlws-group-row" data-group={group.value ?? ''}>
      <th scope="rowgroup" colSpan={span}>
        <button
          className="jp-mlws-fold"
          aria-expanded={group.expanded}
          aria-label={action}
          title={action}
          onClick={() => model.toggleGroup(group.value)}
        >
          {group.expanded ? '▾' : '▸'}
        </button>
        <span className="jp-mlws-group-label">{group.label}</span>{' '}
        <span className="jp-mlws-count">({group.count})</span>
      </th>
    </tr>
  );
}
