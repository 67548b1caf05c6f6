import { MLWorkspaceAPI } from '../api/client';
import { IExperimentModel } from '../api/types';

/**
 * Saved column sets of the runs table, per experiment: a name for a list of
 * shown columns (runColumns.ts), picked from the Columns menu. Decisions:
 * - Kept on the server as experiment tags, so they follow the workspace, not
 *   one browser: `mlws.ui.column_sets` holds the sets as JSON
 *   (`{"name": ["metrics.loss", "params.lr"]}`), `mlws.ui.column_set` the
 *   name of the set used last ("" for none), which the table opens with.
 * - A change is read-modify-write against the experiment as the server has
 *   it now (browserModel.ts fetches it first), so two browsers saving
 *   different sets keep both; the same name saved twice keeps the later one.
 * - What the tag holds is checked on the way in: anything that is not a
 *   name -> list of text is dropped, never trusted (a tag anyone can set).
 * - The tag value is limited (8,000 characters on the server): a save that
 *   would pass it is refused here with a message, before the request.
 */

export const COLUMN_SETS_TAG = 'mlws.ui.column_sets';
export const LAST_SET_TAG = 'mlws.ui.column_set';
export const NAME_MAX = 60;
const TAG_VALUE_MAX = 8000;

export type ColumnSets = Record<string, string[]>;

/** The sets an experiment's tag holds (an empty object if none or unreadable). */
export function readColumnSets(experiment: IExperimentModel | null): ColumnSets {
  const text = experiment?.tags?.[COLUMN_SETS_TAG];
  if (!text) {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const sets: ColumnSets = {};
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const [name, columns] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(columns) && columns.every(c => typeof c === 'string') && name.trim()) {
        sets[name] = columns as string[];
      }
    }
  }
  return sets;
}

/** True if `sets` has its own set `name` (not an Object property such as "toString"). */
export function hasSet(sets: ColumnSets, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(sets, name);
}

/** The name of the set used last, if the experiment still has it. */
export function readLastSet(experiment: IExperimentModel | null, sets: ColumnSets): string | null {
  const name = experiment?.tags?.[LAST_SET_TAG];
  return name && hasSet(sets, name) ? name : null;
}

/** A set's name as given, trimmed, or an Error saying what is wrong with it. */
export function checkSetName(name: string): string | Error {
  const trimmed = name.trim();
  if (!trimmed) {
    return new Error('Give the column set a name.');
  }
  if (trimmed.length > NAME_MAX) {
    return new Error(`A column set's name is limited to ${NAME_MAX} characters.`);
  }
  return trimmed;
}

/** The tags that store `sets` and the last used one, or an Error if they do not fit. */
export function columnSetTags(sets: ColumnSets, last: string | null): Record<string, string> | Error {
  const text = JSON.stringify(sets);
  if (text.length > TAG_VALUE_MAX) {
    return new Error(
      `The saved column sets would take ${text.length} characters; the limit is ${TAG_VALUE_MAX}. Delete a set first.`
    );
  }
  return { [COLUMN_SETS_TAG]: text, [LAST_SET_TAG]: last ?? '' };
}

/** An experiment's saved sets and the one used last. */
export interface ISavedColumnSets {
  sets: ColumnSets;
  last: string | null;
}

/** What a change makes of the saved sets (browserModel.ts's save, use and delete). */
export type ColumnSetChange = (saved: ISavedColumnSets) => ISavedColumnSets;

/** Reads and writes an experiment's column sets through the REST API. */
export class ColumnSetStore {
  constructor(private readonly _api: MLWorkspaceAPI) {}

  /** The sets as the server has them now. */
  async load(experimentId: number): Promise<ISavedColumnSets> {
    return savedOf(await this._api.getExperiment(experimentId));
  }

  /**
   * Read the sets as the server has them now, apply `change`, write them back
   * (another browser's saves in between are kept); the sets as saved.
   */
  async change(experimentId: number, change: ColumnSetChange): Promise<ISavedColumnSets> {
    const next = change(await this.load(experimentId));
    const tags = columnSetTags(next.sets, next.last);
    if (tags instanceof Error) {
      throw tags;
    }
    return savedOf(await this._api.updateExperiment(experimentId, { tags }));
  }
}

function savedOf(experiment: IExperimentModel): ISavedColumnSets {
  const sets = readColumnSets(experiment);
  return { sets, last: readLastSet(experiment, sets) };
}
