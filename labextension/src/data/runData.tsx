import * as React from 'react';

import { dataInputs } from './lineage';

/**
 * The run view's "Data" section (runs/runDetails.tsx): the data versions a
 * run read, from its lineage tags: each input's name → "name:version". A
 * version opens in the panel's Data tab (`onOpenData`: the `mlws:open-data`
 * command) with its files and the other runs that read it. Nothing shows
 * for a run that read no data.
 */
export function RunDataInputs({
  tags,
  onOpenData
}: {
  tags: Record<string, string> | undefined;
  onOpenData?: (name: string, version: number) => void;
}): JSX.Element | null {
  const inputs = dataInputs(tags);
  if (inputs.length === 0) {
    return null;
  }
  return (
    <section className="jp-mlws-run-section" aria-label="Data">
      <h4>Data</h4>
      <ul className="jp-mlws-run-data" aria-label="Data inputs">
        {inputs.map(({ input, ref, name, version }) => (
          <li key={`${input ?? ''}/${ref}`}>
            <span className="jp-mlws-run-data-input">{input ?? 'read'}</span>
            {' → '}
            {onOpenData && name !== null && version !== null ? (
              <button
                className="jp-mlws-link"
                onClick={() => onOpenData(name, version)}
                title={`Show ${ref} in the Data tab: its files and the runs that read it`}
              >
                {ref}
              </button>
            ) : (
              <code>{ref}</code>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
