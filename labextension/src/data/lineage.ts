/**
 * How the front end reads data lineage from run tags (what the job submitter
 * writes, jupyter_mlws/client/jobs.py): a run that read data versions
 * carries `mlws.data` = " name:v other:w " (every version it read, space
 * delimited, with a space at each end, so that one `like '% name:v %'`
 * finds the runs of a version) and `mlws.data.<input>` = "name:v" per input.
 *
 * Used by the Data tab (dataModel.ts: the runs that read a version) and the
 * run view (runData.tsx: the run's data inputs, and which tags to leave out
 * of its Tags table).
 */

/** The tag listing every data version a run read. */
export const DATA_TAG = 'mlws.data';

/** The prefix of the per-input tags (`mlws.data.<input>`). */
const INPUT_PREFIX = `${DATA_TAG}.`;

/** "name:version", the reference jobs take (`inputs={"x": "data:" + ref}`). */
export function dataRef(name: string, version: number): string {
  return `${name}:${version}`;
}

/** Whether a tag key is one of the lineage tags (shown in the run's Data section, not among its tags). */
export function isDataTag(key: string): boolean {
  return key === DATA_TAG || key.startsWith(INPUT_PREFIX);
}

/**
 * The run filter of the runs that read `ref`. Asset names are letters,
 * digits and `._-`; a quote is doubled all the same, as the filter grammar
 * reads it. `_` is a one-character wildcard of `like`: `readsVersion` checks
 * each answer exactly.
 */
export function readersFilter(ref: string): string {
  return `tags.${DATA_TAG} like '% ${ref.replace(/\\/g, '\\\\').replace(/'/g, "''")} %'`;
}

/** Whether a run's tags say it read `ref`. */
export function readsVersion(tags: Record<string, string> | undefined, ref: string): boolean {
  return (tags?.[DATA_TAG] ?? '').split(' ').includes(ref);
}

/** A data input of a run: its name in the job's `inputs` and the version it read. */
export interface IDataInput {
  /** The input's name, or null for a version listed in `mlws.data` without an input tag. */
  input: string | null;
  ref: string;
  /** The asset's name and version, or null when `ref` is not "name:version". */
  name: string | null;
  version: number | null;
}

function parsed(input: string | null, ref: string): IDataInput {
  const match = /^(.+):(\d+)$/.exec(ref);
  return { input, ref, name: match ? match[1] : null, version: match ? Number(match[2]) : null };
}

/** The data a run read, by input name (sorted), then any version read under no input name. */
export function dataInputs(tags: Record<string, string> | undefined): IDataInput[] {
  const entries = Object.entries(tags ?? {});
  const inputs = entries
    .filter(([key]) => key.startsWith(INPUT_PREFIX) && key.length > INPUT_PREFIX.length)
    .map(([key, value]) => parsed(key.slice(INPUT_PREFIX.length), value.trim()))
    .sort((a, b) => ((a.input ?? '') < (b.input ?? '') ? -1 : 1));
  const named = new Set(inputs.map(i => i.ref));
  const others = (tags?.[DATA_TAG] ?? '')
    .split(' ')
    .filter(ref => ref && !named.has(ref))
    .map(ref => parsed(null, ref));
  return [...inputs, ...others];
}
