import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { MLWorkspaceAPI } from './api/client';
import { IRunEvent, RUN_EVENT_SCHEMA_ID } from './api/types';
import { WorkspaceModel } from './model';
import { WorkspacePanel } from './panel';
import { IMLWorkspace } from './tokens';

export { IMLWorkspace } from './tokens';
export { MLWorkspaceAPI, MLWorkspaceAPIError } from './api/client';
export * from './api/types';

/**
 * The main plugin: builds the one API client and provides `IMLWorkspace`,
 * the token every other jupyter_mlws plugin registers into.
 */
const workspacePlugin: JupyterFrontEndPlugin<IMLWorkspace> = {
  id: 'jupyter-mlws:workspace',
  description: 'The ML workspace service: REST client and workspace information.',
  autoStart: true,
  provides: IMLWorkspace,
  activate: (app: JupyterFrontEnd): IMLWorkspace => {
    const model = new WorkspaceModel(new MLWorkspaceAPI(app.serviceManager.serverSettings));
    void model.refresh();
    // Run activity arrives on Jupyter's own authenticated event stream.
    app.serviceManager.events.stream.connect((_, event) => {
      if (event.schema_id === RUN_EVENT_SCHEMA_ID) {
        model.relayRunEvent(event as unknown as IRunEvent);
      }
    });
    return model;
  }
};

/** The "ML Workspace" left sidebar panel. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlws:sidebar',
  description: 'The ML Workspace panel in the left sidebar.',
  autoStart: true,
  requires: [IMLWorkspace],
  optional: [ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    workspace: IMLWorkspace,
    restorer: ILayoutRestorer | null
  ): void => {
    const panel = new WorkspacePanel(workspace);
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
  }
};

export default [workspacePlugin, sidebarPlugin];
