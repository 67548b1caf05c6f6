/** A run's artifacts: the list, and previews of text, images and tables (the run view's part). */
import * as React from 'react';

import { IArtifactInfo } from '../api/types';
import { IMLWorkspace } from '../tokens';

/** Artifacts shown as text (the others are listed; images and tables preview as such). */
const TEXT_EXTENSIONS = ['.txt', '.log', '.py', '.md', '.yaml', '.yml', '.toml', '.cfg', '.ini', '.sh', '.r'];
const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.gif', '.webp'];
/** Previews read at most this much text. */
const PREVIEW_BYTES = 256 * 1024;
/** Table previews show at most this many rows. */
const PREVIEW_ROWS = 100;
/** The log tail shows this many lines. */
export const LOG_LINES = 200;

function extensionOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(dot).toLowerCase();
}

/** A small CSV parser (quoted fields, doubled quotes); previews only. */
export function parseCsv(text: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
      }
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** JSON as table rows when it is a list of objects (or an object of columns); else null. */
export function jsonTable(value: unknown, maxRows: number): string[][] | null {
  const cell = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  if (Array.isArray(value) && value.length > 0 && value.every(v => v && typeof v === 'object' && !Array.isArray(v))) {
    const columns = [...new Set(value.flatMap(v => Object.keys(v as object)))];
    return [
      columns,
      ...value.slice(0, maxRows).map(v => columns.map(c => cell((v as Record<string, unknown>)[c])))
    ];
  }
  return null;
}

function SimpleTable({ rows, label }: { rows: string[][]; label: string }): JSX.Element {
  const [head, ...body] = rows;
  return (
    <div className="jp-mlws-table-scroll">
      <table className="jp-mlws-grid" aria-label={label}>
        <thead>
          <tr>
            {(head ?? []).map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((r, i) => (
            <tr key={i}>
              {r.map((c, j) => (
                <td key={j}>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type Preview =
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'image'; url: string }
  | { kind: 'table'; rows: string[][] }
  | { kind: 'none'; message: string };

async function readText(response: Response): Promise<{ text: string; truncated: boolean }> {
  const blob = await response.blob();
  const truncated = blob.size > PREVIEW_BYTES;
  return { text: await blob.slice(0, PREVIEW_BYTES).text(), truncated };
}

/** Fetch and shape an artifact's preview. */
async function loadPreview(workspace: IMLWorkspace, runId: string, artifact: IArtifactInfo): Promise<Preview> {
  const ext = extensionOf(artifact.path);
  if (IMAGE_EXTENSIONS.includes(ext)) {
    const response = await workspace.api.downloadArtifact(runId, artifact.path, true);
    return { kind: 'image', url: URL.createObjectURL(await response.blob()) };
  }
  if (ext === '.csv' || ext === '.tsv') {
    const { text } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    const rows =
      ext === '.tsv'
        ? text.split(/\r?\n/).filter(Boolean).slice(0, PREVIEW_ROWS + 1).map(l => l.split('\t'))
        : parseCsv(text, PREVIEW_ROWS + 1);
    return { kind: 'table', rows };
  }
  if (ext === '.json') {
    const { text, truncated } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    if (!truncated) {
      try {
        const table = jsonTable(JSON.parse(text), PREVIEW_ROWS);
        if (table) {
          return { kind: 'table', rows: table };
        }
        return { kind: 'text', text: JSON.stringify(JSON.parse(text), null, 2), truncated };
      } catch {
        // shown as text below
      }
    }
    return { kind: 'text', text, truncated };
  }
  if (TEXT_EXTENSIONS.includes(ext) || artifact.size < 64 * 1024) {
    const { text, truncated } = await readText(await workspace.api.downloadArtifact(runId, artifact.path));
    if (!text.includes('\u0000')) {
      return { kind: 'text', text, truncated };
    }
  }
  return { kind: 'none', message: 'No preview for this kind of file.' };
}

export function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  if (size < 1024 * 1024) {
    return `${(size / 1024).toFixed(1)} KiB`;
  }
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

function PreviewView({ preview }: { preview: Preview }): JSX.Element {
  switch (preview.kind) {
    case 'image':
      return <img className="jp-mlws-preview-image" src={preview.url} alt="Artifact preview" />;
    case 'table':
      return <SimpleTable rows={preview.rows} label="Artifact preview" />;
    case 'text':
      return (
        <pre className="jp-mlws-code" aria-label="Artifact preview">
          {preview.text}
          {preview.truncated ? '\n… (preview cut)' : ''}
        </pre>
      );
    default:
      return <p className="jp-mlws-muted">{preview.message}</p>;
  }
}

/** A run's files; clicking one previews it below the list. */
export function Artifacts({
  workspace,
  runId,
  artifacts
}: {
  workspace: IMLWorkspace;
  runId: string;
  artifacts: IArtifactInfo[];
}): JSX.Element {
  const [selected, setSelected] = React.useState<string | null>(null);
  const [preview, setPreview] = React.useState<Preview | null>(null);
  React.useEffect(() => {
    if (selected === null) {
      return;
    }
    const artifact = artifacts.find(a => a.path === selected);
    if (!artifact) {
      return;
    }
    let live = true;
    let url: string | null = null;
    setPreview(null);
    loadPreview(workspace, runId, artifact)
      .then(p => {
        url = p.kind === 'image' ? p.url : null;
        if (live) {
          setPreview(p);
        } else if (url) {
          URL.revokeObjectURL(url);
        }
      })
      .catch(reason => live && setPreview({ kind: 'none', message: String(reason?.message ?? reason) }));
    return () => {
      live = false;
      if (url) {
        URL.revokeObjectURL(url);
      }
    };
  }, [selected, runId]);
  return (
    <section className="jp-mlws-run-section" aria-label="Artifacts">
      <h4>Artifacts</h4>
      {artifacts.length === 0 ? (
        <p className="jp-mlws-muted">No artifacts.</p>
      ) : (
        <ul className="jp-mlws-artifacts">
          {artifacts.map(a => (
            <li key={a.path}>
              <button
                className={`jp-mlws-linkish${a.path === selected ? ' jp-mod-selected' : ''}`}
                aria-pressed={a.path === selected}
                onClick={() => setSelected(a.path === selected ? null : a.path)}
              >
                {a.path}
              </button>{' '}
              <span className="jp-mlws-muted">{formatBytes(a.size)}</span>
            </li>
          ))}
        </ul>
      )}
      {selected !== null && (
        <div className="jp-mlws-preview" aria-label={`Preview of ${selected}`} role="region">
          {preview === null ? <div className="jp-mlws-loading">Loading…</div> : <PreviewView preview={preview} />}
        </div>
      )}
    </section>
  );
}

/** A text artifact fetched whole (logs tail, code); refetched when `version` changes. */
export function useArtifactText(
  workspace: IMLWorkspace,
  runId: string,
  path: string,
  present: boolean,
  version: unknown
): string | null {
  const [text, setText] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (!present) {
      setText(null);
      return;
    }
    let live = true;
    workspace.api
      .downloadArtifact(runId, path)
      .then(r => r.text())
      .then(t => live && setText(t))
      .catch(() => live && setText(null));
    return () => {
      live = false;
    };
  }, [runId, path, present, version]);
  return text;
}
