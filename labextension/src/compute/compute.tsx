import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { IComputeInstance, IKernelUsage } from '../api/computeTypes';
import { InstanceForm } from './computeForm';
import { ComputeModel } from './computeModel';
import { formatDuration } from '../runs/runformat';

/**
 * The Compute tab of the ML Workspace panel: the compute instances (size,
 * idle shutdown, kernelspec; Edit, Delete), a "New instance" form, and under
 * each instance its running kernels (CPU, memory used / limit, uptime,
 * state, the idle-shutdown countdown, "Keep running").
 *
 * Who calls what: `WorkspacePanel` renders `ComputeView` inside a
 * `UseSignal` on `ComputeModel.changed`; the model polls while the tab is
 * shown (see computeModel.ts). Everything renders as text: instance names,
 * descriptions and notebook paths are user input, never HTML.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units: 1536 → "1.5 KiB", 4294967296 → "4 GiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '—';
  }
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 1 : 0);
  return `${text} ${UNITS[unit]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "2 CPUs · 4 GiB · 0 GPUs"; missing limits read "all CPUs" and "no memory limit". */
export function formatSize(instance: IComputeInstance): string {
  const cpus = instance.cpus === null || instance.cpus === undefined ? 'all CPUs' : plural(instance.cpus, 'CPU');
  const memory =
    instance.memory_bytes === null || instance.memory_bytes === undefined
      ? 'no memory limit'
      : instance.memory ?? formatBytes(instance.memory_bytes);
  return `${cpus} · ${memory} · ${plural(instance.gpus ?? 0, 'GPU')}`;
}

/** "after 60 min", "after 1.5 min", "after 20 s", or "never" (null or 0). */
export function formatIdle(minutes: number | null | undefined): string {
  if (!minutes) {
    return 'never';
  }
  return minutes < 1 ? `after ${Math.round(minutes * 60)} s` : `after ${Number(minutes.toFixed(2))} min`;
}

/** States in which the server never shuts a kernel down as idle. */
const NOT_IDLE = ['busy', 'restarting', 'dead'];

function KernelItem({ model, kernel, now }: { model: ComputeModel; kernel: IKernelUsage; now: number }): JSX.Element {
  const memory =
    kernel.memory_limit_bytes === null || kernel.memory_limit_bytes === undefined
      ? formatBytes(kernel.rss_bytes)
      : `${formatBytes(kernel.rss_bytes)} / ${formatBytes(kernel.memory_limit_bytes)}`;
  const error = model.itemErrors.get(kernel.kernel_id);
  const label = kernel.notebook_path ?? `kernel ${kernel.kernel_id.slice(0, 8)}`;
  const shutdownAt = kernel.idle_shutdown_at;
  return (
    <li className="jp-mlws-kernel" data-kernel-id={kernel.kernel_id}>
      <div className="jp-mlws-kernel-head">
        <span
          className="jp-mlws-kernel-name"
          title={`${kernel.kernel_id}${kernel.pid ? ` (pid ${kernel.pid})` : ''}`}
        >
          {label}
        </span>
        <span className={`jp-mlws-kernel-state jp-mlws-kernel-${kernel.execution_state}`} aria-label="State">
          {kernel.execution_state}
        </span>
      </div>
      <div className="jp-mlws-kernel-usage">
        <span aria-label="CPU" title="CPU, summed over the kernel's processes (100% = one CPU)">
          CPU {`${(kernel.cpu_percent ?? 0).toFixed(0)}%`}
        </span>
        <span aria-label="Memory" title="Memory used (RSS) / the instance's limit">
          {memory}
        </span>
        <span aria-label="Uptime" title="Uptime">
          up {formatDuration((kernel.uptime_s ?? 0) * 1000)}
        </span>
      </div>
      {shutdownAt !== null && shutdownAt !== undefined && (
        <div className="jp-mlws-kernel-idle">
          {NOT_IDLE.includes(kernel.execution_state) ? (
            <span className="jp-mlws-muted">no idle shutdown while {kernel.execution_state}</span>
          ) : (
            <>
              <span className="jp-mlws-idle-countdown">
                {shutdownAt > now ? `idle shutdown in ${formatDuration(shutdownAt - now)}` : 'idle shutdown due'}
              </span>
              <button
                className="jp-mod-styled jp-mlws-small"
                onClick={() => void model.keepAlive(kernel.kernel_id)}
                title="Postpone this kernel's idle shutdown"
              >
                Keep running
              </button>
            </>
          )}
        </div>
      )}
      {error && (
        <div className="jp-mlws-inline-error" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}

function KernelList({ model, instance }: { model: ComputeModel; instance: IComputeInstance }): JSX.Element {
  const kernels = instance.kernels ?? [];
  const now = Date.now();
  if (kernels.length === 0) {
    return <p className="jp-mlws-muted">No running kernels.</p>;
  }
  return (
    <ul className="jp-mlws-kernels" aria-label={`Kernels of ${instance.name}`}>
      {kernels.map(k => (
        <KernelItem key={k.kernel_id} model={model} kernel={k} now={now} />
      ))}
    </ul>
  );
}

async function confirmDelete(model: ComputeModel, instance: IComputeInstance): Promise<void> {
  const answer = await showDialog({
    title: `Delete ${instance.name}?`,
    body: `The instance and its kernel "${instance.kernelspec}" are removed. Runs that used it keep their records.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (answer.button.accept) {
    await model.remove(instance.name);
  }
}

function InstanceCard({
  model,
  instance,
  onEdit
}: {
  model: ComputeModel;
  instance: IComputeInstance;
  onEdit: () => void;
}): JSX.Element {
  const error = model.itemErrors.get(instance.name);
  return (
    <li className="jp-mlws-instance" aria-label={`Instance ${instance.name}`} data-instance={instance.name}>
      <div className="jp-mlws-instance-head">
        <span className="jp-mlws-instance-name">{instance.name}</span>
        <span className="jp-mlws-instance-actions">
          <button className="jp-mod-styled jp-mlws-small" onClick={onEdit} aria-label={`Edit ${instance.name}`}>
            Edit
          </button>
          <button
            className="jp-mod-styled jp-mlws-small"
            onClick={() => void confirmDelete(model, instance)}
            aria-label={`Delete ${instance.name}`}
          >
            Delete
          </button>
        </span>
      </div>
      <div className="jp-mlws-instance-size">{formatSize(instance)}</div>
      <div className="jp-mlws-muted">
        Idle shutdown {formatIdle(instance.idle_shutdown_minutes)} · kernel <code>{instance.kernelspec}</code>
      </div>
      {instance.description && <div className="jp-mlws-instance-description">{instance.description}</div>}
      {error && (
        <div className="jp-mlws-error" role="alert">
          <p>{error}</p>
        </div>
      )}
      <KernelList model={model} instance={instance} />
    </li>
  );
}

/** The Compute tab's content. */
export function ComputeView({ model }: { model: ComputeModel }): JSX.Element {
  // null: no form; '': the new-instance form; a name: that instance's edit form.
  const [form, setForm] = React.useState<string | null>(null);
  const instances = model.instances;
  const editing = form ? instances?.find(i => i.name === form) ?? null : null;
  // An instance deleted elsewhere while its form is open closes the form.
  const showForm = form === '' || editing !== null;
  return (
    <section className="jp-mlws-compute" aria-label="Compute instances">
      <div className="jp-mlws-toolbar">
        <h3>Compute instances</h3>
        {!showForm && (
          <button className="jp-mod-styled jp-mod-accept" onClick={() => setForm('')}>
            New instance
          </button>
        )}
      </div>
      {showForm && (
        <InstanceForm key={form} model={model} instance={editing} onDone={() => setForm(null)} />
      )}
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      {instances === null ? (
        <div className="jp-mlws-loading">Loading compute instances…</div>
      ) : instances.length === 0 ? (
        <p className="jp-mlws-muted">
          No compute instances yet. An instance is a named kernel size (CPUs, memory, GPUs, idle shutdown) that
          shows in the Launcher as a kernel.
        </p>
      ) : (
        <ul className="jp-mlws-instance-list">
          {instances.map(instance => (
            <InstanceCard key={instance.name} model={model} instance={instance} onEdit={() => setForm(instance.name)} />
          ))}
        </ul>
      )}
    </section>
  );
}
