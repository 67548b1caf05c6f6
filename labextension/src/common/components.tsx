import * as React from 'react';

/**
 * Small presentational pieces shared by the panel's views. Everything here
 * renders text only: names, params and tags are user input, never HTML.
 */

export interface IRowProps {
  label: string;
  value: string;
}

/** One `<dt>/<dd>` pair of a definition list. */
export function Row({ label, value }: IRowProps): JSX.Element {
  return (
    <div className="jp-mlws-row">
      <dt className="jp-mlws-label">{label}</dt>
      <dd className="jp-mlws-value" title={value}>
        {value}
      </dd>
    </div>
  );
}
