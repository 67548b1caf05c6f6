import * as React from 'react';

import { BrowserModel } from './browserModel';

/** The runs table's controls over what it shows: the Columns menu and the filter box (runsTable.tsx). */

export function ColumnsMenu({ model }: { model: BrowserModel }): JSX.Element | null {
  const keys = model.metricKeys;
  if (keys.length === 0) {
    return null;
  }
  const shown = model.shownMetricColumns;
  return (
    <details className="jp-mlws-columns">
      <summary>Columns</summary>
      <ul>
        {keys.map(key => (
          <li key={key}>
            <label>
              <input type="checkbox" checked={shown.includes(key)} onChange={() => model.toggleMetricColumn(key)} />{' '}
              {key}
            </label>
          </li>
        ))}
      </ul>
    </details>
  );
}

export function FilterBox({ model }: { model: BrowserModel }): JSX.Element {
  const [text, setText] = React.useState(model.filter);
  return (
    <input
      type="search"
      className="jp-mlws-filter jp-mod-styled"
      aria-label="Filter runs"
      placeholder="Filter: metrics.loss < 0.5 and params.lr = '0.01'  (Enter)"
      title="The run filter grammar: metrics.K, params.K, tags.K or name, status, start_time… Press Enter."
      value={text}
      onChange={e => setText(e.target.value)}
      onKeyDown={e => {
        if (e.key === 'Enter') {
          // What the box shows now, not the last rendered state: a key pressed right after
          // the text changed must not apply the previous filter.
          model.setFilter(e.currentTarget.value);
        }
      }}
    />
  );
}
