import * as React from 'react';

import { runColours } from '../common/runColours';
import { BrowserModel } from './browserModel';
import { ColumnsMenu, FilterBox, GroupBySelect } from './filterBar';
import { columnLabel, sortNote } from './runColumns';
import { GroupHeader, RunRow } from './runRows';
import { CLIENT_SORTED } from './runSearch';

/**
 * One experiment's runs table (browser.tsx shows it): the toolbar (back,
 * Compare, the Columns menu, Group by), the filter, a sortable header for
 * every column, a checkbox per run with the run's chart colour once
 * selected, and paging ("Load more", or scrolling to the end). A run's
 * children are under its row, which folds them; groups fold under their
 * header (runGroups.ts). The rows are in runRows.tsx.
 */

/** Columns before the keyed ones: select, name, status, start, duration. */
const FIXED_COLUMNS = 5;

export interface IBrowserProps {
  model: BrowserModel;
  onOpenRun: (runId: string) => void;
  onCompare: (runIds: string[]) => void;
  /** Opens the experiment's Charts view (every metric of the selected runs, else the loaded ones). */
  onCharts?: (experimentId: number) => void;
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
  const local = CLIENT_SORTED.has(column) ? ' (loaded runs only)' : '';
  return (
    <th scope="col" aria-sort={active ? (model.sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button
        className="jp-mlws-sort"
        onClick={() => model.setSort(column)}
        title={`Sort by ${label}: ${sortNote(column)}`}
        aria-label={`Sort by ${label}${local}`}
      >
        {label}
        {active ? (model.sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
}

export function RunsTable({ model, onOpenRun, onCompare, onCharts }: IBrowserProps): JSX.Element {
  const experiment = model.experiment;
  const columns = model.shownColumns;
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
  const selected = model.selectedIds;
  const colours = runColours(selected);
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
        {onCharts && model.experimentId !== null && (
          <button
            className="jp-mod-styled"
            onClick={() => onCharts(model.experimentId as number)}
            title="Every metric of the selected runs (or of the loaded runs when none is selected)"
          >
            Charts
          </button>
        )}
        <ColumnsMenu model={model} />
        <GroupBySelect model={model} />
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
              <SortHeader model={model} column="duration" label="Duration" />
              {columns.map(column => (
                <SortHeader key={column} model={model} column={column} label={columnLabel(column)} />
              ))}
            </tr>
          </thead>
          {model.sections(Date.now()).map(({ group, rows }) => (
            <tbody key={group?.id ?? 'runs'}>
              {group && <GroupHeader model={model} group={group} span={FIXED_COLUMNS + columns.length} />}
              {rows.map(row => (
                <RunRow
                  key={row.run.run_id}
                  model={model}
                  row={row}
                  columns={columns}
                  colour={colours.get(row.run.run_id)}
                  onOpenRun={onOpenRun}
                />
              ))}
            </tbody>
          ))}
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
