import * as React from 'react';

/** The panel's tabs. */
export type PanelTab = 'experiments' | 'compute' | 'jobs' | 'data' | 'models' | 'endpoints';

const TABS: [PanelTab, string][] = [
  ['experiments', 'Experiments'],
  ['compute', 'Compute'],
  ['jobs', 'Jobs'],
  ['data', 'Data'],
  ['models', 'Models'],
  ['endpoints', 'Endpoints']
];

/** The tab bar; the arrow keys move between tabs (the WAI-ARIA tabs pattern). */
export function TabBar({ current, onSelect }: { current: PanelTab; onSelect: (tab: PanelTab) => void }): JSX.Element {
  const onKeyDown = (e: React.KeyboardEvent): void => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') {
      return;
    }
    const index = TABS.findIndex(([tab]) => tab === current);
    const next = TABS[(index + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length][0];
    onSelect(next);
    document.getElementById(`mlws-tab-${next}`)?.focus();
  };
  return (
    <div className="jp-mlws-tabs" role="tablist" aria-label="ML Workspace views" onKeyDown={onKeyDown}>
      {TABS.map(([tab, label]) => (
        <button
          key={tab}
          role="tab"
          id={`mlws-tab-${tab}`}
          tabIndex={current === tab ? 0 : -1}
          aria-selected={current === tab}
          aria-controls={`mlws-tabpanel-${tab}`}
          className={`jp-mlws-tab${current === tab ? ' jp-mod-current' : ''}`}
          onClick={() => onSelect(tab)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}
