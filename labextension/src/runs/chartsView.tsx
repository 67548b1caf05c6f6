/**
 * An experiment's Charts view (main area, command `mlws:experiment-charts`):
 * every metric of the runs chosen in the runs table, as W&B's workspace
 * panels. Decisions:
 * - The table's selection drives it: the selected runs of this experiment,
 *   in selection order (so colours match the table's swatches); with none
 *   selected, the runs the table has loaded (its first page, `PAGE_SIZE`).
 *   Selecting or clearing a run in the table updates the view at once.
 * - Opened while the table shows another experiment, it reads the first
 *   `PAGE_SIZE` runs of its experiment itself, newest first.
 * - Grouping follows the table's "Group by" when the table has one, and the
 *   view's own group-by control sets it for both.
 * - New points of shown runs refresh the charts at most once a second.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';
import { PAGE_SIZE } from './browserModel';
import { useRunEventsVersion } from './runEventsVersion';
import { RunsCharts } from './runsCharts';

/** What the view reads of the runs table's state (BrowserModel has it). */
export interface IRunsSource {
  readonly changed: ISignal<unknown, void>;
  experimentId: number | null;
  runs: IRunModel[];
  selection: Set<string>;
  groupBy?: string | null;
  /** Sets the table's grouping (and tells its listeners). */
  setGroupBy?(key: string | null): void;
}

/** The runs the view shows: the selection in order, else the loaded runs. */
export function chosenRuns(source: IRunsSource, experimentId: number): IRunModel[] | null {
  if (source.experimentId !== experimentId) {
    return null;
  }
  const byId = new Map(source.runs.map(r => [r.run_id, r]));
  const selected = [...source.selection].map(id => byId.get(id)).filter((r): r is IRunModel => !!r);
  return selected.length ? selected : source.runs.slice(0, PAGE_SIZE);
}

function ChartsView(props: { workspace: IMLWorkspace; source: IRunsSource; experimentId: number }): JSX.Element {
  const { workspace, source, experimentId } = props;
  const [runs, setRuns] = React.useState<IRunModel[] | null>(() => chosenRuns(source, experimentId));
  const [groupBy, setGroupBy] = React.useState<string | null>(source.groupBy ?? null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    const onChange = () => {
      const chosen = chosenRuns(source, experimentId);
      if (chosen) {
        setRuns(chosen);
        if (source.groupBy !== undefined) {
          setGroupBy(source.groupBy ?? null);
        }
      }
    };
    source.changed.connect(onChange);
    if (runs === null) {
      workspace.api
        .searchRuns({ experimentId, limit: PAGE_SIZE })
        .then(page => setRuns(r => r ?? page.runs))
        .catch(reason => setError(reason instanceof Error ? reason.message : String(reason)));
    }
    return () => {
      source.changed.disconnect(onChange);
    };
  }, [source, experimentId]);
  const version = useRunEventsVersion(workspace, (runs ?? []).map(r => r.run_id));
  const onGroupBy = (key: string | null) => {
    setGroupBy(key);
    if (source.setGroupBy && source.experimentId === experimentId) {
      source.setGroupBy(key);
    }
  };
  if (error !== null) {
    return (
      <div className="jp-mlws-error" role="alert">
        <strong>The runs could not be read.</strong>
        <p>{error}</p>
      </div>
    );
  }
  if (runs === null) {
    return <div className="jp-mlws-loading">Loading the runs…</div>;
  }
  return (
    <section className="jp-mlws-compare" aria-label="Experiment charts">
      <h3 className="jp-mlws-run-title">
        Charts of {runs.length} run{runs.length === 1 ? '' : 's'}
      </h3>
      <RunsCharts workspace={workspace} runs={runs} version={version} groupBy={groupBy} onGroupBy={onGroupBy} />
    </section>
  );
}

/** The content of the main-area Charts widget. */
export class ChartsWidget extends ReactWidget {
  constructor(
    private readonly _workspace: IMLWorkspace,
    private readonly _source: IRunsSource,
    readonly experimentId: number
  ) {
    super();
    this.addClass('jp-mlws-runpage');
  }

  render(): JSX.Element {
    return <ChartsView workspace={this._workspace} source={this._source} experimentId={this.experimentId} />;
  }
}
