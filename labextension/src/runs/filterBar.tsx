import * as React from 'react';

import { BrowserModel } from './browserModel';
import { ColumnKind, keysOf } from './runColumns';

/**
 * The runs table's controls over what it shows (runsTable.tsx): the Columns
 * menu (metric, param and tag columns, and the experiment's saved column
 * sets), the Group by choice and the filter box. They only call the model
 * (tableView.ts); what is saved where is decided there.
 */

const KINDS: { kind: ColumnKind; title: string }[] = [
  { kind: 'metrics', title: 'Metrics' },
  { kind: 'params', title: 'Params' },
  { kind: 'tags', title: 'Tags' }
];

function ColumnChoices({ model, kind, title }: { model: BrowserModel; kind: ColumnKind; title: string }): JSX.Element | null {
  const shown = model.shownColumns;
  // Saved columns stay listed (and can be hidden) even when no loaded run has them.
  const keys = new Set(keysOf(model.runs, kind));
  for (const column of shown) {
    if (column.startsWith(`${kind}.`)) {
      keys.add(column.slice(kind.length + 1));
    }
  }
  if (keys.size === 0) {
    return null;
  }
  return (
    <fieldset className="jp-mlws-column-choices">
      <legend>{title}</legend>
      {[...keys].sort().map(key => {
        const column = `${kind}.${key}`;
        return (
          <label key={column} title={column}>
            <input
              type="checkbox"
              aria-label={column}
              checked={shown.includes(column)}
              onChange={() => model.toggleColumn(column)}
            />{' '}
            {key}
          </label>
        );
      })}
    </fieldset>
  );
}

function ColumnSetChoices({ model }: { model: BrowserModel }): JSX.Element {
  const [name, setName] = React.useState('');
  const names = Object.keys(model.columnSets).sort((a, b) => a.localeCompare(b));
  const changed = model.columnSetChanged;
  return (
    <fieldset className="jp-mlws-column-sets">
      <legend>Saved column sets</legend>
      {names.length === 0 ? (
        <p className="jp-mlws-muted">None yet: choose columns, name them, Save.</p>
      ) : (
        <ul aria-label="Saved column sets">
          {names.map(set => {
            const active = set === model.columnSet;
            return (
              <li key={set}>
                <button
                  className="jp-mlws-linkish"
                  aria-pressed={active}
                  title={`Show the columns of ${set}: ${model.columnSets[set].join(', ')}`}
                  onClick={() => void model.useColumnSet(set)}
                >
                  {set}
                </button>
                {active && changed && <span className="jp-mlws-muted"> (changed)</span>}
                <button
                  className="jp-mlws-icon-button"
                  aria-label={`Delete column set ${set}`}
                  title={`Delete column set ${set}`}
                  onClick={() => void model.deleteColumnSet(set)}
                >
                  ✕
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <form
        className="jp-mlws-column-set-save"
        onSubmit={event => {
          event.preventDefault();
          const input = event.currentTarget.elements.namedItem('set-name') as HTMLInputElement;
          void model.saveColumnSet(input.value).then(() => setName(''));
        }}
      >
        <input
          name="set-name"
          className="jp-mod-styled"
          aria-label="Column set name"
          placeholder="Name"
          maxLength={60}
          value={name}
          onChange={e => setName(e.target.value)}
        />
        <button type="submit" className="jp-mod-styled" title="Save the shown columns under this name (on the experiment)">
          Save
        </button>
      </form>
    </fieldset>
  );
}

export function ColumnsMenu({ model }: { model: BrowserModel }): JSX.Element {
  return (
    <details className="jp-mlws-columns">
      <summary title="Choose the columns; save and switch named sets of them">
        Columns{model.columnSet !== null ? `: ${model.columnSet}` : ''}
      </summary>
      <div className="jp-mlws-columns-menu">
        {KINDS.map(({ kind, title }) => (
          <ColumnChoices key={kind} model={model} kind={kind} title={title} />
        ))}
        <ColumnSetChoices model={model} />
      </div>
    </details>
  );
}

/** "Group by": none, or a param or tag of the loaded runs (the charts group their lines the same way). */
export function GroupBySelect({ model }: { model: BrowserModel }): JSX.Element {
  const choices = [
    ...keysOf(model.runs, 'params').map(k => `params.${k}`),
    ...keysOf(model.runs, 'tags').map(k => `tags.${k}`)
  ];
  if (model.groupBy !== null && !choices.includes(model.groupBy)) {
    choices.push(model.groupBy);
  }
  return (
    <label className="jp-mlws-group-by">
      Group by{' '}
      <select
        className="jp-mod-styled"
        aria-label="Group by"
        title="Group the runs by a param or tag (the charts group their lines the same way)"
        value={model.groupBy ?? ''}
        onChange={e => model.setGroupBy(e.target.value || null)}
      >
        <option value="">none</option>
        {choices.map(column => (
          <option key={column} value={column}>
            {column}
          </option>
        ))}
      </select>
    </label>
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
