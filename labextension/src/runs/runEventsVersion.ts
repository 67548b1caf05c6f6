import * as React from 'react';

import { IMLWorkspace } from '../tokens';

/**
 * A number that grows when any of `runIds` has a run event (new points, a
 * status change), at most once a second: the views of several runs (compare,
 * an experiment's Charts view) refetch on it.
 */
export function useRunEventsVersion(workspace: IMLWorkspace, runIds: readonly string[]): number {
  const [version, setVersion] = React.useState(0);
  const key = runIds.join(',');
  React.useEffect(() => {
    const ids = new Set(runIds);
    let timer: number | null = null;
    const onEvent = (_: IMLWorkspace, event: { run_id: string }) => {
      if (ids.has(event.run_id) && timer === null) {
        timer = window.setTimeout(() => {
          timer = null;
          setVersion(v => v + 1);
        }, 1000);
      }
    };
    workspace.runEvents.connect(onEvent);
    return () => {
      workspace.runEvents.disconnect(onEvent);
      if (timer !== null) {
        window.clearTimeout(timer);
      }
    };
  }, [key]);
  return version;
}
