import { JupyterFrontEnd } from '@jupyterlab/application';

import { COMPUTE_EVENT_SCHEMA_ID, IComputeEvent } from '../api/computeTypes';
import { ComputeModel, message } from './computeModel';
import { NoticeGroup, nameList } from '../common/notices';
import { formatDuration } from '../runs/runformat';

/**
 * Live compute events → notifications, the Compute tab and the Launcher.
 *
 * Called once by the sidebar plugin (index.ts) with the panel's
 * `ComputeModel`; returns what to dispose on deactivation. It listens on
 * `app.serviceManager.events.stream` (Jupyter's authenticated events
 * websocket) for schema `COMPUTE_EVENT_SCHEMA_ID`, emitted by the server's
 * ComputeManager:
 * - `idle_warning` → a warning with a "Keep running" action that POSTs
 *   `/compute/kernels/{id}/keepalive`, then says until when it keeps running;
 * - `idle_shutdown` → an info (the warning of that kernel is dismissed);
 * - `limit_stopped` → an error with the reason (it stays until closed);
 * - `changed`, `kernel_started`, `kernel_stopped` → the Compute tab refreshes
 *   and, for `changed`, the kernelspecs too, so the Launcher and the kernel
 *   picker show new instances and drop deleted ones.
 * This page's own creates/edits/deletes refresh the kernelspecs at once
 * (`ComputeModel.instancesChanged`) without waiting for the event.
 *
 * Decision: one toast per kind at a time (common/notices.ts): a repeated warning for
 * a kernel updates the shown one, warnings for several kernels share one toast
 * ("2 idle kernels shut down soon", with "Keep all running"), and so do
 * shutdowns and limit stops.
 */
export function watchComputeEvents(app: JupyterFrontEnd, model: ComputeModel): { dispose(): void } {
  const refreshSpecs = (): void => {
    void app.serviceManager.kernelspecs.refreshSpecs();
  };
  const instances = (events: readonly IComputeEvent[]) => nameList(events.map(e => e.instance));

  // What "Keep running" answered, one line per kernel.
  type Answer = { kernel: string; text: string };
  const kept = new NoticeGroup<Answer>({
    type: 'success',
    autoClose: 4000,
    key: answer => answer.kernel,
    message: answers => (answers.length === 1 ? answers[0].text : `${answers.length} kernels keep running.`)
  });
  const keepFailed = new NoticeGroup<Answer>({
    type: 'error',
    autoClose: false,
    key: answer => answer.kernel,
    message: answers => {
      const newest = answers[answers.length - 1].text;
      return answers.length === 1 ? newest : `${answers.length} kernels could not be kept running. ${newest}`;
    }
  });
  const keepRunning = async (events: readonly IComputeEvent[]): Promise<void> => {
    await Promise.all(
      events.map(async event => {
        const kernelId = event.kernel_id as string;
        warnings.remove(e => e.kernel_id === kernelId);
        try {
          const answer = await model.api.keepKernelAlive(kernelId);
          const until = answer.idle_shutdown_at
            ? ` until at least ${new Date(answer.idle_shutdown_at).toLocaleTimeString()}`
            : '';
          kept.add({ kernel: kernelId, text: `The kernel of "${event.instance}" keeps running${until}.` });
        } catch (reason) {
          const text = `Could not keep the kernel of "${event.instance}" running: ${message(reason)}`;
          keepFailed.add({ kernel: kernelId, text });
        }
      })
    );
    void model.refresh();
  };

  // One warning toast: a repeated warning for a kernel replaces its line, another kernel joins it.
  const warnings = new NoticeGroup<IComputeEvent>({
    type: 'warning',
    autoClose: false,
    key: event => event.kernel_id ?? '',
    message: events => {
      if (events.length > 1) {
        return `${events.length} idle kernels shut down soon: ${instances(events)}.`;
      }
      const event = events[0];
      const left = event.shutdown_at ? ` in ${formatDuration(event.shutdown_at - Date.now())}` : ' soon';
      return `The idle kernel of "${event.instance}" shuts down${left}.`;
    },
    actions: events => [
      {
        label: events.length === 1 ? 'Keep running' : 'Keep all running',
        caption: 'Postpone the idle shutdown',
        callback: () => void keepRunning(events)
      }
    ]
  });
  const shutDown = new NoticeGroup<IComputeEvent>({
    type: 'info',
    autoClose: 8000,
    message: events =>
      events.length === 1
        ? `The idle kernel of "${events[0].instance}" was shut down${events[0].reason ? `: ${events[0].reason}` : '.'}`
        : `${events.length} idle kernels were shut down: ${instances(events)}.`
  });
  const stopped = new NoticeGroup<IComputeEvent>({
    type: 'error',
    autoClose: false,
    message: events => {
      if (events.length > 1) {
        return `${events.length} kernels were stopped at a limit of their instance: ${instances(events)}.`;
      }
      const reason = events[0].reason ?? 'it went past a limit of the instance.';
      return `The kernel of "${events[0].instance}" was stopped: ${reason}`;
    }
  });
  const dismissWarning = (kernelId: string | null): void => {
    if (kernelId) {
      warnings.remove(e => e.kernel_id === kernelId);
    }
  };

  const onEvent = (_: unknown, raw: { schema_id: string }): void => {
    if (raw.schema_id !== COMPUTE_EVENT_SCHEMA_ID) {
      return;
    }
    const event = raw as unknown as IComputeEvent;
    switch (event.action) {
      case 'idle_warning':
        if (event.kernel_id) {
          warnings.add(event);
        }
        break;
      case 'idle_shutdown':
        dismissWarning(event.kernel_id);
        shutDown.add(event);
        break;
      case 'limit_stopped':
        dismissWarning(event.kernel_id);
        stopped.add(event);
        break;
      case 'kernel_stopped':
        dismissWarning(event.kernel_id);
        break;
      case 'changed':
        refreshSpecs();
        break;
    }
    if (model.active) {
      void model.refresh();
    }
  };

  app.serviceManager.events.stream.connect(onEvent);
  model.instancesChanged.connect(refreshSpecs);
  return {
    dispose() {
      app.serviceManager.events.stream.disconnect(onEvent);
      model.instancesChanged.disconnect(refreshSpecs);
    }
  };
}
