import * as React from 'react';

import { IRunModel } from '../api/types';
import { Row } from '../common/components';
import { isDataTag } from '../data/lineage';
import { RunDataInputs } from '../data/runData';
import { isBatchRun, RunBatch } from './runBatch';
import { formatDuration, formatMetric, formatTime, KNOWN_STATUSES } from './runformat';
import { RunViewModel } from './runViewModel';

/**
 * The side column of the run view (runview.tsx): the run's name, live
 * status, timing, source, params, the data it read (data/runData.tsx; those
 * lineage tags are left out of the Tags table), tags and latest metrics, as text;
 * a batch-scoring job's run also its progress and failed items (runBatch.tsx).
 */

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

export function RunDetails({
  model,
  run,
  onGoToCell,
  onOpenData
}: {
  model: RunViewModel;
  run: IRunModel;
  onGoToCell?: (notebookPath: string, cellId: string | null) => void;
  onOpenData?: (name: string, version: number) => void;
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
      {isBatchRun(run) && <RunBatch workspace={model.workspace} run={run} />}
      <KeyValues title="Parameters" entries={Object.entries(run.params ?? {})} empty="No parameters." />
      <RunDataInputs tags={run.tags} onOpenData={onOpenData} />
      <KeyValues
        title="Latest metrics"
        entries={Object.entries(run.metrics ?? {}).map(([k, v]) => [k, formatMetric(v)])}
        empty="No metrics yet."
      />
      <KeyValues
        title="Tags"
        entries={Object.entries(run.tags ?? {}).filter(([key]) => !isDataTag(key))}
        empty="No tags."
      />
    </>
  );
}
