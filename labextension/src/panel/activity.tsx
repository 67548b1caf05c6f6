import * as React from 'react';

import { IRunEvent } from '../api/types';
import { FINAL_STATUSES } from '../runs/runformat';

/** A run's line: an event carries the run's status as it is now, and an ended run's status wins. */
function describe(event: IRunEvent): string {
  if (event.status && FINAL_STATUSES.includes(event.status)) {
    return event.status;
  }
  switch (event.action) {
    case 'created':
      return `started (${event.status ?? 'running'})`;
    case 'metrics':
      return 'logged metrics';
    case 'updated':
      return event.status ?? 'updated';
    default:
      return 'changed';
  }
}

/** The last run events pushed by the server, newest first (text only: names are user input). */
export function Activity({ events }: { events: IRunEvent[] }): JSX.Element {
  return (
    <section className="jp-mlws-activity" aria-label="Run activity">
      <h3>Live activity</h3>
      {events.length === 0 ? (
        <p className="jp-mlws-muted">No run activity since this page opened.</p>
      ) : (
        <ul>
          {events.map((event, i) => (
            <li key={`${event.run_id}-${i}`}>
              <span className="jp-mlws-run-name">{event.name ?? event.run_id.slice(0, 8)}</span>{' '}
              {describe(event)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
