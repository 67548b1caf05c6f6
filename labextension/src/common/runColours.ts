/**
 * One colour per run, the same in the runs table, a chart's legend and every
 * chart of a view. Decision: a run's colour is its position in the ordered
 * list of runs a view shows (the table's selection, in the order runs were
 * selected), not a hash of its id: hashing gives two of three runs the same
 * colour one time in seven, while positions stay distinct for the first 20.
 * The palette is Tableau 10 followed by its lighter companions, with
 * mid-tone picks that read on both the light and the dark theme.
 */
export const RUN_PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#6baed6',
  '#fd8d3c',
  '#74c476',
  '#f768a1',
  '#a08cd6',
  '#c49c94',
  '#f7b6d2',
  '#b0b0b0',
  '#dbdb8d',
  '#7fd8e6'
];

/** The colour of the `index`-th run of a view (wraps after 20). */
export function runColour(index: number): string {
  return RUN_PALETTE[((index % RUN_PALETTE.length) + RUN_PALETTE.length) % RUN_PALETTE.length];
}

/** Run id -> colour for runs in the order a view lists them. */
export function runColours(runIds: readonly string[]): Map<string, string> {
  return new Map(runIds.map((id, i) => [id, runColour(i)]));
}
