import * as React from 'react';

import { IComputeInstance, IComputeInstanceBody } from '../api/computeTypes';
import { ComputeModel, message } from './computeModel';

/**
 * The "New instance" / "Edit" form of the Compute tab.
 *
 * Decisions:
 * - The server validates (name grammar, memory units, ranges) and its 400
 *   message is shown next to the form as it is: one rule, written once, on
 *   the server. The form only checks what it must parse itself: numbers and
 *   the `KEY=VALUE` environment lines.
 * - Empty fields mean "no limit": omitted on create, sent as null on edit
 *   (so clearing a field removes the limit).
 * - Memory is typed like the CLI takes it ("4GiB", "512MiB", "2G");
 *   editing shows the current limit in the largest whole binary unit.
 */

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** "4GiB" for 4294967296, "1536MiB", else the bytes. */
export function memoryInput(bytes: number | null): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  if (bytes % GIB === 0) {
    return `${bytes / GIB}GiB`;
  }
  if (bytes % MIB === 0) {
    return `${bytes / MIB}MiB`;
  }
  return String(bytes);
}

/** `KEY=VALUE` lines → object; blank lines and `#` comments are skipped. Throws naming the bad line. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new Error(`Environment line ${i + 1} ("${line}") is not KEY=VALUE.`);
    }
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  return env;
}

function numberField(label: string, text: string, integer: boolean): number | null {
  const value = text.trim();
  if (!value) {
    return null;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new Error(`${label} must be ${integer ? 'a whole number' : 'a number'}, not "${value}".`);
  }
  return n;
}

interface IFields {
  name: string;
  cpus: string;
  memory: string;
  gpus: string;
  idle: string;
  env: string;
  python: string;
  description: string;
}

function initialFields(instance: IComputeInstance | null): IFields {
  if (!instance) {
    return { name: '', cpus: '', memory: '', gpus: '0', idle: '', env: '', python: '', description: '' };
  }
  return {
    name: instance.name,
    cpus: instance.cpus === null ? '' : String(instance.cpus),
    memory: memoryInput(instance.memory_bytes),
    gpus: String(instance.gpus ?? 0),
    idle: instance.idle_shutdown_minutes ? String(instance.idle_shutdown_minutes) : '',
    env: Object.entries(instance.env ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    python: instance.python ?? '',
    description: instance.description ?? ''
  };
}

function toBody(fields: IFields, editing: boolean): IComputeInstanceBody {
  const cpus = numberField('CPUs', fields.cpus, true);
  const gpus = numberField('GPUs', fields.gpus, true);
  const idle = numberField('Idle shutdown', fields.idle, false);
  const body: IComputeInstanceBody = {
    gpus: gpus ?? 0,
    env: parseEnv(fields.env),
    description: fields.description.trim()
  };
  if (!editing) {
    body.name = fields.name.trim();
  }
  const optional: [keyof IComputeInstanceBody, string | number | null][] = [
    ['cpus', cpus],
    ['memory', fields.memory.trim() || null],
    ['idle_shutdown_minutes', idle],
    ['python', fields.python.trim() || null]
  ];
  for (const [key, value] of optional) {
    if (value !== null || editing) {
      (body as Record<string, unknown>)[key] = value;
    }
  }
  return body;
}

export interface IInstanceFormProps {
  model: ComputeModel;
  /** The instance edited, or null for a new one. */
  instance: IComputeInstance | null;
  onDone: () => void;
}

/** Create or edit an instance; the server's refusal is shown in the form's alert. */
export function InstanceForm({ model, instance, onDone }: IInstanceFormProps): JSX.Element {
  const editing = instance !== null;
  const [fields, setFields] = React.useState<IFields>(() => initialFields(instance));
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const set = (key: keyof IFields) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    setFields({ ...fields, [key]: e.target.value });
  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = toBody(fields, editing);
      if (editing) {
        await model.update(instance.name, body);
      } else {
        await model.create(body);
      }
      setError(null);
      onDone();
    } catch (reason) {
      setError(message(reason));
    } finally {
      setBusy(false);
    }
  };
  const title = editing ? `Edit ${instance.name}` : 'New instance';
  return (
    <form className="jp-mlws-compute-form" aria-label={title} onSubmit={e => void submit(e)}>
      <h4>{title}</h4>
      {!editing && (
        <label>
          Name
          <input
            className="jp-mod-styled"
            value={fields.name}
            onChange={set('name')}
            placeholder="small-cpu"
            title="Lower-case letters, digits and dashes; the kernel is mlws-<name>"
            required
          />
        </label>
      )}
      <div className="jp-mlws-compute-form-grid">
        <label>
          CPUs
          <input className="jp-mod-styled" inputMode="numeric" value={fields.cpus} onChange={set('cpus')} placeholder="all" />
        </label>
        <label>
          Memory
          <input className="jp-mod-styled" value={fields.memory} onChange={set('memory')} placeholder="4GiB (none)" />
        </label>
        <label>
          GPUs
          <input className="jp-mod-styled" inputMode="numeric" value={fields.gpus} onChange={set('gpus')} />
        </label>
        <label>
          Idle shutdown (minutes)
          <input className="jp-mod-styled" inputMode="decimal" value={fields.idle} onChange={set('idle')} placeholder="never" />
        </label>
      </div>
      <label>
        Environment (KEY=VALUE lines)
        <textarea className="jp-mod-styled" rows={2} value={fields.env} onChange={set('env')} placeholder="HF_HOME=/data/hf" />
      </label>
      <label>
        Python (optional)
        <input
          className="jp-mod-styled"
          value={fields.python}
          onChange={set('python')}
          placeholder="/opt/envs/torch/bin/python (this server's)"
        />
      </label>
      <label>
        Description
        <input className="jp-mod-styled" value={fields.description} onChange={set('description')} />
      </label>
      {error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{error}</p>
        </div>
      )}
      <div className="jp-mlws-toolbar">
        <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={busy}>
          {editing ? 'Save' : 'Create'}
        </button>
        <button type="button" className="jp-mod-styled jp-mod-reject" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
