import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';
import { checkSetName, ColumnSetChange, ColumnSets, ColumnSetStore, hasSet, ISavedColumnSets } from './columnSets';
import { columnParts, keysOf, sortLoaded } from './runColumns';
import { groupId, IRunSection, sectionRuns } from './runGroups';
import { ISort } from './runSearch';

/**
 * How the runs table shows the loaded runs: its columns and their saved sets,
 * groups, folds and the selection. The base of `BrowserModel`
 * (browserModel.ts), which loads the runs; split from it so each file holds
 * one concern. Decisions:
 * - Columns: the latest value of chosen metrics (the first three keys seen
 *   by default, `system/*` left out), and any params and tags, picked with
 *   the "Columns" menu; named sets of them are saved on the experiment
 *   (columnSets.ts), and the set used last opens with the experiment. A set
 *   is shown by name while the columns are the set's; a change to the
 *   columns leaves the name on the menu marked "changed" until saved again.
 * - A run's children are shown under it (runGroups.ts); the parents folded
 *   by the user are `collapsedParents`. `groupBy` (a param or tag column)
 *   puts the runs in groups by its value; the charts view groups its lines
 *   the same way, so it is public, announced by `changed` like the rest.
 * - The selection is ordered by when each run was selected (`selectedIds`):
 *   the i-th selected run has `runColour(i)` in the table, the legend and
 *   every chart. Unselecting a run moves the later ones up one colour.
 */
export abstract class RunsTableView {
  constructor(readonly workspace: IMLWorkspace) {
    this._columnSetStore = new ColumnSetStore(workspace.api);
  }

  experimentId: number | null = null;
  runs: IRunModel[] = [];
  nextPageToken: string | null = null;
  error: string | null = null;
  sort: ISort = { column: 'start_time', desc: true };
  /** The shown keyed columns (`metrics.K`, `params.K`, `tags.K`); null: the default ones. */
  columns: string[] | null = null;
  /** Selected run ids in the order they were selected (a Set keeps insertion order). */
  selection = new Set<string>();
  /** Parents whose children the user folded away. */
  collapsedParents = new Set<string>();
  /** `params.<key>` or `tags.<key>` the rows are grouped by; null: no groups. */
  groupBy: string | null = null;
  /** Groups the user folded (by runGroups.ts `groupId`). */
  collapsedGroups = new Set<string>();
  /** This experiment's saved column sets, and the one shown (null: none). */
  columnSets: ColumnSets = {};
  columnSet: string | null = null;

  /** Tell the views that something changed (BrowserModel's `changed` signal). */
  protected abstract emitChanged(): void;

  /** Metric keys of the loaded runs, sorted. */
  get metricKeys(): string[] {
    return keysOf(this.runs, 'metrics');
  }

  /** The shown keyed columns; by default the first three of the runs' own metrics, not the system ones. */
  get shownColumns(): string[] {
    return (
      this.columns ??
      this.metricKeys
        .filter(k => !k.startsWith('system/'))
        .slice(0, 3)
        .map(k => `metrics.${k}`)
    );
  }

  /** The metric keys among the shown columns. */
  get shownMetricColumns(): string[] {
    return this.shownColumns.filter(c => c.startsWith('metrics.')).map(c => c.slice(8));
  }

  /** True while the shown columns differ from those of the set in use. */
  get columnSetChanged(): boolean {
    const saved = this.columnSet === null ? undefined : this.columnSets[this.columnSet];
    return saved !== undefined && saved.join('\n') !== this.shownColumns.join('\n');
  }

  /** The selected runs' ids, in the order they were selected (the colour order of the charts). */
  get selectedIds(): string[] {
    return [...this.selection];
  }

  /** The table's sections and rows: sorted, grouped and folded (runColumns.ts, runGroups.ts). */
  sections(now: number): IRunSection[] {
    const sorted = sortLoaded(this.runs, this.sort, this.nextPageToken === null, now);
    return sectionRuns(sorted, this.groupBy, this.collapsedGroups, this.collapsedParents);
  }

  /** Group the rows by a param or tag column, or (null) not at all. */
  setGroupBy(column: string | null): void {
    const kind = column === null ? null : columnParts(column)?.kind;
    this.groupBy = kind === 'params' || kind === 'tags' ? column : null;
    this.collapsedGroups = new Set();
    this.emitChanged();
  }

  /** Fold or unfold a group of rows. */
  toggleGroup(value: string | null): void {
    this.collapsedGroups = toggled(this.collapsedGroups, groupId(value));
    this.emitChanged();
  }

  /** Show or hide a keyed column (`metrics.K`, `params.K`, `tags.K`). */
  toggleColumn(column: string): void {
    const shown = this.shownColumns;
    this.columns = shown.includes(column) ? shown.filter(c => c !== column) : [...shown, column];
    this.emitChanged();
  }

  /** Select or unselect a run; a run selected again goes to the end of the order. */
  toggleSelected(runId: string): void {
    this.selection = toggled(this.selection, runId);
    this.emitChanged();
  }

  /** Fold or unfold a parent's children in the table. */
  toggleParent(runId: string): void {
    this.collapsedParents = toggled(this.collapsedParents, runId);
    this.emitChanged();
  }

  /** Save the shown columns as the set `name` (replacing one of that name) and show it. */
  async saveColumnSet(name: string): Promise<void> {
    const checked = checkSetName(name);
    if (checked instanceof Error) {
      this.error = checked.message;
      this.emitChanged();
      return;
    }
    const columns = this.shownColumns;
    await this._changeColumnSets(({ sets }) => ({ sets: { ...sets, [checked]: columns }, last: checked }));
  }

  /** Show the columns of the saved set `name`, and remember it as the one used last. */
  async useColumnSet(name: string): Promise<void> {
    if (!hasSet(this.columnSets, name)) {
      return;
    }
    this.columns = [...this.columnSets[name]];
    this.columnSet = name;
    this.emitChanged();
    await this._changeColumnSets(({ sets }) => ({ sets, last: hasSet(sets, name) ? name : null }));
  }

  /** Delete the saved set `name` (the shown columns stay as they are). */
  async deleteColumnSet(name: string): Promise<void> {
    const change: ColumnSetChange = ({ sets, last }) => {
      const rest = { ...sets };
      delete rest[name];
      return { sets: rest, last: last === name ? null : last };
    };
    await this._changeColumnSets(change, false);
  }

  /** Forget the view of the experiment shown before (BrowserModel.openExperiment). */
  protected resetView(): void {
    this.selection = new Set();
    this.collapsedParents = new Set();
    this.collapsedGroups = new Set();
    this.groupBy = null;
    this.columns = null;
    this.columnSets = {};
    this.columnSet = null;
  }

  /** Fetch the experiment's saved sets; show the one used last unless the user changed the columns meanwhile. */
  protected async loadColumnSets(experimentId: number): Promise<void> {
    try {
      const saved = await this._columnSetStore.load(experimentId);
      if (experimentId === this.experimentId) {
        this._showColumnSets(saved, this.columns === null);
      }
    } catch {
      // No saved sets shown; the table works without them.
    }
  }

  /** Write a change to the saved sets; then show the set used last if `showLast`. */
  private async _changeColumnSets(change: ColumnSetChange, showLast = true): Promise<void> {
    const experimentId = this.experimentId;
    if (experimentId === null) {
      return;
    }
    try {
      const saved = await this._columnSetStore.change(experimentId, change);
      if (experimentId === this.experimentId) {
        this.error = null;
        this._showColumnSets(saved, showLast);
      }
    } catch (reason) {
      this.error = `The column sets were not saved: ${reason instanceof Error ? reason.message : String(reason)}`;
      this.emitChanged();
    }
  }

  private _showColumnSets(saved: ISavedColumnSets, useLast: boolean): void {
    this.columnSets = saved.sets;
    if (useLast && saved.last !== null) {
      this.columns = [...saved.sets[saved.last]];
      this.columnSet = saved.last;
    } else if (this.columnSet !== null && !hasSet(saved.sets, this.columnSet)) {
      this.columnSet = null;
    }
    this.emitChanged();
  }

  private _columnSetStore: ColumnSetStore;
}

/** A copy of `set` with `item` removed if it was there, else added at the end. */
function toggled<T>(set: ReadonlySet<T>, item: T): Set<T> {
  const next = new Set(set);
  if (!next.delete(item)) {
    next.add(item);
  }
  return next;
}
