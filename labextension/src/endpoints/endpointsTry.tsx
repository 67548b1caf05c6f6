import * as React from 'react';

import { IEndpoint, ISignature } from '../api/registryTypes';
import { EndpointsTabModel } from './endpointsModel';

/**
 * The "Try it" box of an endpoint card: a JSON body and a key, sent to the
 * endpoint's `POST /score` (through the server's relay), and the answer as
 * it came back (status and JSON: predictions, or the endpoint's error).
 *
 * Decisions: the key field starts with the key this page last made for the
 * endpoint (deploy or regenerate), else it is empty for the user to paste
 * one; it is a password field so a screenshot or a screen share does not
 * show it. The body starts as an example of the records orientation, with
 * the signature's columns when the caller knows it.
 */

/** `[{"a": 0, "b": 0}]` from a signature's inputs, or a generic example. */
export function exampleBody(signature?: ISignature | null): string {
  if (!signature?.inputs?.length) {
    return '[{"x": 1.0}]';
  }
  const zero: Record<string, string> = { double: '0.0', long: '0', string: '""', boolean: 'false' };
  const fields = signature.inputs.map(c => `${JSON.stringify(c.name)}: ${zero[c.type] ?? 'null'}`);
  return `[{${fields.join(', ')}}]`;
}

export function TryIt({
  model,
  endpoint,
  signature
}: {
  model: EndpointsTabModel;
  endpoint: IEndpoint;
  signature?: ISignature | null;
}): JSX.Element {
  const [body, setBody] = React.useState(() => exampleBody(signature));
  const [key, setKey] = React.useState(() => model.tryKeys.get(endpoint.name) ?? '');
  const [busy, setBusy] = React.useState(false);
  // A key made after the box opened (regenerate) replaces what the field held.
  const latest = model.tryKeys.get(endpoint.name);
  React.useEffect(() => {
    if (latest !== undefined) {
      setKey(latest);
    }
  }, [latest]);
  const answer = model.answers.get(endpoint.name);
  const send = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    try {
      await model.score(endpoint.name, key, body);
    } finally {
      setBusy(false);
    }
  };
  const ok = answer !== undefined && answer.status >= 200 && answer.status < 300;
  return (
    <details className="jp-mlws-try">
      <summary>Try it</summary>
      <form onSubmit={e => void send(e)} aria-label={`Try ${endpoint.name}`}>
        <label>
          Body (JSON records or split orientation)
          <textarea
            className="jp-mod-styled"
            rows={3}
            value={body}
            onChange={e => setBody(e.target.value)}
            spellCheck={false}
          />
        </label>
        <label>
          Key
          <input
            className="jp-mod-styled"
            type="password"
            value={key}
            onChange={e => {
              setKey(e.target.value);
              model.setTryKey(endpoint.name, e.target.value);
            }}
            placeholder="paste a key, or regenerate one"
            autoComplete="off"
          />
        </label>
        <button className="jp-mod-styled jp-mod-accept jp-mlws-small" type="submit" disabled={busy || !key}>
          Send
        </button>
      </form>
      {answer !== undefined && (
        <div
          className={`jp-mlws-try-answer${ok ? '' : ' jp-mlws-try-failed'}`}
          role="status"
          aria-label={`Answer of ${endpoint.name}`}
        >
          <div className="jp-mlws-muted">{answer.status ? `HTTP ${answer.status}` : 'no answer'}</div>
          <pre>{typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 1)}</pre>
        </div>
      )}
    </details>
  );
}
