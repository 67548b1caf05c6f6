import { JupyterFrontEnd } from '@jupyterlab/application';

import { EndpointsTabModel } from '../endpoints/endpointsModel';
import { ModelsTabModel } from './modelsModel';

/** The event-bus schema id of live registry events (REGISTRY_EVENT_SCHEMA_ID in jupyter_mlws/server/registry.py). */
export const REGISTRY_EVENT_SCHEMA_ID = 'https://events.jupyter.org/jupyter_mlws/registry/v1';

/** A live registry event: something changed a model or an endpoint through the server. */
export interface IRegistryEvent {
  action: 'model_changed' | 'endpoint_changed';
  name: string;
}

/**
 * Refreshes the Models or Endpoints tab at once when the server says a
 * model or an endpoint changed (another browser tab, the CLI through REST),
 * instead of at the next 2 s poll. Registered once by the sidebar plugin,
 * next to `watchComputeEvents`.
 *
 * Decision: only a tab that is shown refreshes (`active`); a hidden one
 * loads when it is next shown, so events cost nothing while nobody looks.
 * Changes made outside the server (Python in a kernel writing the store)
 * send no event; the polling covers them.
 */
export function watchRegistryEvents(
  app: JupyterFrontEnd,
  models: ModelsTabModel,
  endpoints: EndpointsTabModel
): { dispose(): void } {
  const onEvent = (_: unknown, raw: { schema_id: string }): void => {
    if (raw.schema_id !== REGISTRY_EVENT_SCHEMA_ID) {
      return;
    }
    const event = raw as unknown as IRegistryEvent;
    const target = event.action === 'endpoint_changed' ? endpoints : models;
    if (target.active) {
      void target.refresh();
    }
  };
  app.serviceManager.events.stream.connect(onEvent);
  return {
    dispose() {
      app.serviceManager.events.stream.disconnect(onEvent);
    }
  };
}
