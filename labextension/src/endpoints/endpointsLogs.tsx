import * as React from 'react';

import { EndpointsTabModel } from './endpointsModel';

/**
 * The "Logs" section of an endpoint card: the last lines its replicas wrote
 * (the entry script's prints, warnings, a failed request's traceback), each
 * stamped with the UTC time and the replica's pid — what Azure ML's
 * `service.get_logs()` gives. Read when the section is opened and on Refresh
 * (`GET /endpoints/{name}/logs`); shown as text, newest at the bottom.
 */
export function EndpointLogs({ model, name }: { model: EndpointsTabModel; name: string }): JSX.Element {
  const [busy, setBusy] = React.useState(false);
  const text = model.logs.get(name);
  const shown = React.useRef<HTMLPreElement>(null);
  // Newest at the bottom, in view: scrolled down whenever the text changes.
  React.useEffect(() => {
    if (shown.current) {
      shown.current.scrollTop = shown.current.scrollHeight;
    }
  }, [text]);
  const load = async (): Promise<void> => {
    setBusy(true);
    try {
      await model.loadLogs(name);
    } finally {
      setBusy(false);
    }
  };
  const toggled = (e: React.SyntheticEvent<HTMLDetailsElement>): void => {
    if (e.currentTarget.open && text === undefined) {
      void load();
    }
  };
  return (
    <details className="jp-mlws-try jp-mlws-endpoint-logs" onToggle={toggled}>
      <summary>Logs</summary>
      <div className="jp-mlws-form-buttons">
        <button className="jp-mod-styled jp-mlws-small" onClick={() => void load()} disabled={busy}>
          {busy ? 'Reading…' : 'Refresh'}
        </button>
      </div>
      {text === undefined ? (
        <p className="jp-mlws-muted">{busy ? 'Reading the logs…' : ''}</p>
      ) : text === '' ? (
        <p className="jp-mlws-muted">The replicas have written nothing yet.</p>
      ) : (
        <pre className="jp-mlws-log" ref={shown} aria-label={`Logs of ${name}`}>
          {text}
        </pre>
      )}
    </details>
  );
}
