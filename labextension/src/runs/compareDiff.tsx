import * as React from 'react';

import { IRunDiff } from '../api/types';
import { IMLWorkspace } from '../tokens';

/**
 * The code, cells, environment and outputs part of the compare view of two
 * runs: what the server's run diff (`GET /runs/{a}/diff/{b}`, repro/diff.py)
 * finds, one collapsible section per part that differs. Text diffs are shown
 * as unified diffs with added and removed lines colored; changed images side
 * by side.
 */

type Row = Record<string, unknown>;

const TABLES: Record<string, string[]> = {
  environment: ['item', 'a', 'b', 'change'],
  history: ['cell_id', 'count_a', 'count_b', 'order_a', 'order_b', 'change', 'source'],
  tags: ['key', 'a', 'b', 'change']
};

const TITLES: Record<string, string> = {
  code: 'Code',
  cells: 'Notebook cells',
  environment: 'Environment',
  history: 'Execution history',
  artifacts: 'Outputs (artifacts and logs)',
  tags: 'Tags'
};

/** The parts shown here, in order (params and metrics have their own sections). */
export const DIFF_SECTIONS = ['code', 'cells', 'environment', 'history', 'artifacts', 'tags'];

function text(value: unknown): string {
  return value === null || value === undefined ? '—' : String(value);
}

/** Rows of a part that differ (the history part lists every cell; 'same' rows do not count). */
export function changedRows(diff: IRunDiff, part: string): Row[] {
  const rows = (diff.parts[part] ?? []) as Row[];
  return part === 'history' ? (rows.some(r => r.change !== 'same') ? rows : []) : rows;
}

function DiffText({ value }: { value: unknown }): JSX.Element | null {
  const body = typeof value === 'string' ? value : '';
  if (!body) {
    return null;
  }
  return (
    <pre className="jp-mlws-diff">
      {body.split('\n').map((line, i) => {
        let kind = '';
        if (line.startsWith('@@')) {
          kind = 'jp-mlws-diff-hunk';
        } else if (line.startsWith('+') && !line.startsWith('+++')) {
          kind = 'jp-mlws-diff-add';
        } else if (line.startsWith('-') && !line.startsWith('---')) {
          kind = 'jp-mlws-diff-del';
        }
        return (
          <span key={i} className={kind}>
            {line + '\n'}
          </span>
        );
      })}
    </pre>
  );
}

function Table({ rows, columns, label }: { rows: Row[]; columns: string[]; label: string }): JSX.Element {
  return (
    <div className="jp-mlws-table-scroll">
      <table className="jp-mlws-grid" aria-label={label}>
        <thead>
          <tr>
            {columns.map(c => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i} className={row.change === 'same' ? 'jp-mlws-muted' : ''}>
              {columns.map(c => (
                <td key={c}>{text(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Image({ mime, data, side }: { mime: string; data: unknown; side: string }): JSX.Element {
  return (
    <figure className="jp-mlws-diff-image">
      <figcaption>{side}</figcaption>
      {typeof data === 'string' && data ? (
        <img alt={`${side}: ${mime}`} src={`data:${mime};base64,${data}`} />
      ) : (
        <span className="jp-mlws-muted">(none)</span>
      )}
    </figure>
  );
}

function Part({ diff, part }: { diff: IRunDiff; part: string }): JSX.Element {
  const rows = changedRows(diff, part);
  if (part in TABLES) {
    return <Table rows={rows} columns={TABLES[part]} label={`${TITLES[part]} diff`} />;
  }
  if (part === 'cells') {
    return (
      <div>
        {rows.map(row => (
          <div key={String(row.cell_id)} className="jp-mlws-diff-item">
            <div>
              <strong>{text(row.cell_id)}</strong> (cell {text(row.index_a)} → {text(row.index_b)},{' '}
              {text(row.cell_type)}): {text(row.change)}
            </div>
            <DiffText value={row.source_diff} />
            <DiffText value={row.output_diff} />
            {diff.images
              .filter(image => image.cell_id === row.cell_id)
              .map((image, i) => (
                <div key={i} className="jp-mlws-diff-images">
                  <Image mime={String(image.mime)} data={image.a} side="a" />
                  <Image mime={String(image.mime)} data={image.b} side="b" />
                </div>
              ))}
          </div>
        ))}
      </div>
    );
  }
  return (
    <div>
      {rows.map(row => (
        <div key={String(row.path)} className="jp-mlws-diff-item">
          <div>
            <strong>{text(row.path)}</strong> {text(row.change)} ({text(row.size_a)} → {text(row.size_b)} bytes)
          </div>
          <DiffText value={row.diff} />
        </div>
      ))}
    </div>
  );
}

/** The diff sections of two runs; loads the diff when shown. */
export function RunDiffSections({
  workspace,
  runA,
  runB,
  version
}: {
  workspace: IMLWorkspace;
  runA: string;
  runB: string;
  version: number;
}): JSX.Element {
  const [diff, setDiff] = React.useState<IRunDiff | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let live = true;
    workspace.api
      .getRunDiff(runA, runB)
      .then(found => live && setDiff(found))
      .catch(reason => live && setError(reason instanceof Error ? reason.message : String(reason)));
    return () => {
      live = false;
    };
  }, [runA, runB, version]);
  if (error !== null) {
    return (
      <p className="jp-mlws-error" role="alert">
        The code and outputs could not be compared: {error}
      </p>
    );
  }
  if (diff === null) {
    return <p className="jp-mlws-loading">Comparing code, environment and outputs…</p>;
  }
  const shown = DIFF_SECTIONS.filter(part => changedRows(diff, part).length > 0);
  return (
    <section className="jp-mlws-run-section" aria-label="Code, environment and outputs">
      <h4>Code, environment and outputs</h4>
      {diff.notes.map((note, i) => (
        <p key={i} className="jp-mlws-muted">
          {note}
        </p>
      ))}
      {shown.length === 0 && <p className="jp-mlws-muted">Code, cells, environment and outputs are the same.</p>}
      {shown.map(part => (
        <details key={part} open className="jp-mlws-diff-part" aria-label={TITLES[part]}>
          <summary>
            {TITLES[part]}: {changedRows(diff, part).filter(r => r.change !== 'same').length} differ
          </summary>
          <Part diff={diff} part={part} />
        </details>
      ))}
    </section>
  );
}
