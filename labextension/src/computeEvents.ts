import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { COMPUTE_EVENT_SCHEMA_ID, IComputeEvent } from './api/computeTypes';
import { ComputeModel, message } from './computeModel';
import { formatDuration } from './runview';

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
 * Decision: one warning per kernel at a time: a repeated warning for the
 * same kernel updates the shown notification instead of stacking a new one.
 */
export function watchComputeEvents(app: JupyterFrontEnd, model: ComputeModel): { dispose(): void } {
  const warnings = new Map<string, string>();
  const refreshSpecs = (): void => {
    void app.serviceManager.kernelspecs.refreshSpecs();
  };

  const keepRunning = async (event: IComputeEvent): Promise<void> => {
    const kernelId = event.kernel_id as string;
    warnings.delete(kernelId);
    try {
      const answer = await model.api.keepKernelAlive(kernelId);
      const until = answer.idle_shutdown_at
        ? ` until at least ${new Date(answer.idle_shutdown_at).toLocaleTimeString()}`
        : '';
      Notification.success(`The kernel of "${event.instance}" keeps running${until}.`, { autoClose: 4000 });
    } catch (reason) {
      Notification.error(`Could not keep the kernel of "${event.instance}" running: ${message(reason)}`, {
        autoClose: false
      });
    }
    void model.refresh();
  };

  const onIdleWarning = (event: IComputeEvent): void => {
    if (!event.kernel_id) {
      return;
    }
    const left = event.shutdown_at ? ` in ${formatDuration(event.shutdown_at - Date.now())}` : ' soon';
    const text = `The idle kernel of "${event.instance}" shuts down${left}.`;
    const options = {
      type: 'warning' as const,
      autoClose: false as const,
      actions: [
        {
          label: 'Keep running',
          caption: 'Postpone the idle shutdown of this kernel',
          callback: () => void keepRunning(event)
        }
      ]
    };
    const shown = warnings.get(event.kernel_id);
    if (shown && Notification.manager.has(shown)) {
      Notification.update({ id: shown, message: text, ...options });
    } else {
      warnings.set(event.kernel_id, Notification.warning(text, options));
    }
  };

  const dismissWarning = (kernelId: string | null): void => {
    const shown = kernelId ? warnings.get(kernelId) : undefined;
    if (shown) {
      Notification.dismiss(shown);
      warnings.delete(kernelId as string);
    }
  };

  const onEvent = (_: unknown, raw: { schema_id: string }): void => {
    if (raw.schema_id !== COMPUTE_EVENT_SCHEMA_ID) {
      return;
    }
    const event = raw as unknown as IComputeEvent;
    switch (event.action) {
      case 'idle_warning':
        onIdleWarning(event);
        break;
      case 'idle_shutdown':
        dismissWarning(event.kernel_id);
        Notification.info(
          `The idle kernel of "${event.instance}" was shut down${event.reason ? `: ${event.reason}` : '.'}`,
          { autoClose: 8000 }
        );
        break;
      case 'limit_stopped':
        dismissWarning(event.kernel_id);
        Notification.error(
          `The kernel of "${event.instance}" was stopped: ${event.reason ?? 'it went past a limit of the instance.'}`,
          { autoClose: false }
        );
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
