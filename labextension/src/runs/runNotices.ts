import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { IRunEvent, IRunModel } from '../api/types';
import { NoticeGroup, nameList } from '../common/notices';
import { IMLWorkspace } from '../tokens';

/** What the notifications open: the sidebar plugin's commands (index.ts). */
export interface IRunNoticeActions {
  openRun: (runId: string) => void;
  compareRuns: (runIds: string[]) => void;
}

/** Runs are listed in the order they started (their answers come in any order). */
const startedAt = (run: IRunModel): number => run.start_time ?? 0;

/** A "Compare" button compares at most this many of the newest runs of a toast. */
const COMPARE_AT_MOST = 10;

function buttons(runs: readonly IRunModel[], actions: IRunNoticeActions): Notification.IAction[] {
  const newest = runs[runs.length - 1];
  const open = {
    label: runs.length === 1 ? 'Open run' : 'Open latest',
    caption: `Show run "${newest.name}"`,
    callback: () => actions.openRun(newest.run_id)
  };
  if (runs.length === 1) {
    return [open];
  }
  const compared = runs.slice(-COMPARE_AT_MOST).map(run => run.run_id);
  return [
    open,
    {
      label: 'Compare',
      caption: `Compare the ${compared.length} newest of these runs`,
      callback: () => actions.compareRuns(compared)
    }
  ];
}

/**
 * Notifications when runs of this server's kernels complete or fail: one toast
 * per outcome, whatever the number of runs ("3 runs completed: …" with
 * "Open latest" and "Compare"); a run that fails while the failure toast is
 * open joins it. Success toasts close after 8 s, failure toasts stay.
 *
 * Only runs owned by a kernel of this Jupyter server (a `%%mlrun` cell or
 * `mlws.start_run()` in one of its notebooks) raise one: runs logged by
 * scripts elsewhere (a sweep of 10,000 runs) stay visible live in the runs
 * table. Called once by the sidebar plugin; returns what to dispose.
 */
export function watchRunNotifications(
  app: JupyterFrontEnd,
  workspace: IMLWorkspace,
  actions: IRunNoticeActions
): { dispose(): void } {
  const completed = new NoticeGroup<IRunModel>({
    type: 'success',
    autoClose: 8000,
    message: runs =>
      runs.length === 1
        ? `Run "${runs[0].name}" completed`
        : `${runs.length} runs completed: ${nameList(runs.map(r => r.name))}`,
    actions: runs => buttons(runs, actions),
    order: startedAt
  });
  const failed = new NoticeGroup<IRunModel>({
    type: 'error',
    autoClose: false,
    message: runs => {
      if (runs.length > 1) {
        return `${runs.length} runs failed: ${nameList(runs.map(r => r.name))}`;
      }
      const reason = runs[0].status_reason;
      return `Run "${runs[0].name}" failed${reason ? `: ${reason}` : ''}`;
    },
    actions: runs => buttons(runs, actions),
    order: startedAt
  });
  const groups: Record<string, NoticeGroup<IRunModel>> = { completed, failed };
  const notified = new Set<string>();

  const onRunEvent = async (event: IRunEvent): Promise<void> => {
    // An event carries the run's status now: the first one that says it ended is enough.
    const group = event.status ? groups[event.status] : undefined;
    if (!group || notified.has(event.run_id)) {
      return;
    }
    notified.add(event.run_id);
    try {
      const run = await workspace.api.getRun(event.run_id);
      const kernels = new Set(Array.from(app.serviceManager.kernels.running(), k => k.id));
      if (run.kernel_id && kernels.has(run.kernel_id) && groups[run.status] === group) {
        group.add(run);
      }
    } catch {
      // No notification when the run cannot be read.
    }
  };
  const listener = (_: IMLWorkspace, event: IRunEvent): void => void onRunEvent(event);
  workspace.runEvents.connect(listener);
  return { dispose: () => workspace.runEvents.disconnect(listener) };
}
