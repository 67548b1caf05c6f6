import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';

import { MLWorkspaceAPI } from './api/client';
import { IRunEvent, RUN_EVENT_SCHEMA_ID } from './api/types';
import { WorkspaceModel } from './model';
import { WorkspacePanel } from './panel';
import { RunLinkHandler } from './runlinks';
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

/** Command ids of jupyter_mlws. */
export namespace CommandIDs {
  /** Show a run in the sidebar panel; args `{runId: string}` (asked for when missing). */
  export const openRun = 'mlws:open-run';
}

/** What the sidebar plugin registered, released by its `deactivate`. */
let sidebarParts: { dispose(): void }[] = [];

/**
 * The "ML Workspace" left sidebar panel, the `mlws:open-run` command, and the
 * document-level handler that turns clicks on run links in notebook outputs
 * (`data-mlws-run`, the `%%mlrun` run card) into that command.
 */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlws:sidebar',
  description: 'The ML Workspace panel in the left sidebar.',
  autoStart: true,
  requires: [IMLWorkspace],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    workspace: IMLWorkspace,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const panel = new WorkspacePanel(workspace);
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    const command = app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open Run in ML Workspace',
      caption: 'Show a run in the ML Workspace sidebar panel',
      describedBy: {
        args: {
          type: 'object',
          properties: { runId: { type: 'string', description: 'The id of the run to show' } }
        }
      },
      execute: async args => {
        let runId = typeof args.runId === 'string' ? args.runId.trim() : '';
        if (!runId) {
          const answer = await InputDialog.getText({ title: 'Open Run in ML Workspace', label: 'Run id' });
          runId = answer.button.accept ? (answer.value ?? '').trim() : '';
          if (!runId) {
            return;
          }
        }
        panel.showRun(runId);
        app.shell.activateById(panel.id);
      }
    });
    const paletteItem = palette?.addItem({ command: CommandIDs.openRun, category: 'ML Workspace' });
    const links = new RunLinkHandler(runId => {
      void app.commands.execute(CommandIDs.openRun, { runId });
    });
    sidebarParts = [links, command, ...(paletteItem ? [paletteItem] : []), panel];
  },
  deactivate: (): void => {
    for (const part of sidebarParts.splice(0)) {
      part.dispose();
    }
  }
};

export default [workspacePlugin, sidebarPlugin];
