import * as React from 'react';

import { ExperimentList } from './experimentList';
import { IBrowserProps, RunsTable } from './runsTable';

/**
 * The workspace browser of the sidebar's Experiments tab. Its state and
 * decisions are in browserModel.ts (loading) and tableView.ts (what the table
 * shows); its parts are experimentList.tsx and runsTable.tsx (with
 * filterBar.tsx and runRows.tsx).
 */

/** The experiments list, or one experiment's runs table. */
export function WorkspaceBrowser(props: IBrowserProps): JSX.Element {
  return props.model.experimentId === null ? <ExperimentList model={props.model} /> : <RunsTable {...props} />;
}
