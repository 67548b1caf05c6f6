import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { MLWorkspaceAPI } from './api/client';
import { IRunEvent, RUN_EVENT_SCHEMA_ID } from './api/types';
import { WorkspaceModel } from './model';
import { workspaceIcon } from './common/icons';
import { WorkspacePanel } from './panel/panel';
import { ChartsWidget } from './runs/chartsView';
import { CompareWidget } from './runs/compare';
import { watchComputeEvents } from './compute/computeEvents';
import { watchRegistryEvents } from './models/modelsEvents';
import { RunLinkHandler } from './runs/runlinks';
import { watchRunNotifications } from './runs/runNotices';
import { RunViewModel } from './runs/runViewModel';
import { RunWidget } from './runs/runview';
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
  /** Show a run in the main area; args `{runId: string}` (asked for when missing). */
  export const openRun = 'mlws:open-run';
  /** Compare runs in the main area; args `{runIds: string[]}` (two or more). */
  export const compareRuns = 'mlws:compare-runs';
  export const experimentCharts = 'mlws:experiment-charts';
  /** Show a data version in the panel's Data tab; args `{name: string, version?: number}` (newest when missing). */
  export const openData = 'mlws:open-data';
  /** Open a notebook at a cell; args `{path: string, cellId?: string}`. */
  export const goToCell = 'mlws:go-to-cell';
  /** Make the active notebook cell a `%%mlrun` cell (if it is not) and run it. */
  export const runCellTracked = 'mlws:run-cell-tracked';
}

/** What the sidebar plugin registered, released by its `deactivate`. */
let sidebarParts: { dispose(): void }[] = [];

/** The parts of a notebook panel used here (no dependency on @jupyterlab/notebook). */
interface INotebookLike {
  widgets: ReadonlyArray<{ model: { id: string; type: string; sharedModel: { getSource(): string; setSource(s: string): void } } }>;
  activeCellIndex: number;
  activeCell: INotebookLike['widgets'][number] | null;
  deselectAll?: () => void;
  scrollToCell?: (cell: unknown, align?: string) => Promise<void>;
  scrollToItem?: (index: number, behavior?: string) => Promise<void>;
}
interface INotebookPanelLike extends Widget {
  content: INotebookLike;
  context: { ready: Promise<void> };
  toolbar?: { insertItem(index: number, name: string, widget: Widget): boolean };
}

function isNotebookPanel(widget: unknown): widget is INotebookPanelLike {
  const w = widget as Partial<INotebookPanelLike> | null;
  return !!w && !!w.content && Array.isArray((w.content as Partial<INotebookLike>).widgets) && !!w.context;
}

/** The magic that makes a cell a tracked run. */
const MLRUN = '%%mlrun';

/** The source with `%%mlrun` as its first line (unchanged when already there). */
export function asTrackedCell(source: string): string {
  return source.trimStart().startsWith(MLRUN) ? source : `${MLRUN}\n${source}`;
}

/**
 * The "ML Workspace" left sidebar panel (workspace browser), the main-area
 * run and compare views and their commands, the document-level handler that
 * turns clicks on run links in notebook outputs (`data-mlws-run`, the
 * `%%mlrun` run card) into `mlws:open-run`, the notebook toolbar button "Run
 * cell as tracked run", and notifications when runs of this server's kernels
 * complete or fail (runs/runNotices.ts: one toast per outcome, counting the runs).
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
    const { commands, shell } = app;
    const openViews = new Map<string, MainAreaWidget>();
    const openInMain = (id: string, make: () => MainAreaWidget): void => {
      let widget = openViews.get(id);
      if (!widget || widget.isDisposed) {
        widget = make();
        widget.id = id;
        openViews.set(id, widget);
        widget.disposed.connect(() => openViews.delete(id));
        shell.add(widget, 'main');
      }
      shell.activateById(widget.id);
    };
    const panel = new WorkspacePanel(workspace, {
      openRun: runId => void commands.execute(CommandIDs.openRun, { runId }),
      compareRuns: runIds => void commands.execute(CommandIDs.compareRuns, { runIds }),
      openCharts: experimentId => void commands.execute(CommandIDs.experimentCharts, { experimentId })
    });
    shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    const goToCell = async (path: string, cellId: string | null): Promise<void> => {
      const widget = await commands.execute('docmanager:open', { path });
      if (!isNotebookPanel(widget)) {
        return;
      }
      await widget.context.ready;
      shell.activateById(widget.id);
      if (!cellId) {
        return;
      }
      const notebook = widget.content;
      const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
      if (index < 0) {
        Notification.warning(`The cell that made this run is no longer in ${path}.`, { autoClose: 5000 });
        return;
      }
      notebook.deselectAll?.();
      notebook.activeCellIndex = index;
      if (notebook.scrollToCell) {
        await notebook.scrollToCell(notebook.widgets[index], 'center');
      } else {
        await notebook.scrollToItem?.(index, 'center');
      }
    };
    const parts: { dispose(): void }[] = [];
    parts.push(
      commands.addCommand(CommandIDs.openRun, {
        label: 'Open Run in ML Workspace',
        caption: 'Show a run (charts, logs, artifacts, code) in the main area',
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
          openInMain(`mlws-run-${runId}`, () => {
            const model = new RunViewModel(workspace, runId);
            const content = new RunWidget(model, {
              onGoToCell: (path, cell) => void goToCell(path, cell),
              onOpenData: (name, version) => void commands.execute(CommandIDs.openData, { name, version }),
              onOpenRun: id => void commands.execute(CommandIDs.openRun, { runId: id })
            });
            const widget = new MainAreaWidget({ content });
            widget.title.label = `Run ${runId.slice(0, 8)}`;
            widget.title.icon = workspaceIcon;
            widget.title.closable = true;
            model.changed.connect(() => {
              if (model.run) {
                widget.title.label = `Run ${model.run.name}`;
                widget.title.caption = `${model.run.name} (${model.run.status})`;
              }
            });
            return widget;
          });
        }
      }),
      commands.addCommand(CommandIDs.compareRuns, {
        label: 'Compare Runs',
        caption: 'Overlay the metrics of two or more runs and show the params that differ',
        describedBy: {
          args: {
            type: 'object',
            properties: { runIds: { type: 'array', items: { type: 'string' } } }
          }
        },
        isEnabled: args => Array.isArray(args.runIds) && args.runIds.length >= 2,
        execute: args => {
          const runIds = (args.runIds as string[]).map(String);
          openInMain(`mlws-compare-${runIds.join('-')}`.slice(0, 200), () => {
            const widget = new MainAreaWidget({ content: new CompareWidget(workspace, runIds) });
            widget.title.label = `Compare ${runIds.length} runs`;
            widget.title.icon = workspaceIcon;
            widget.title.closable = true;
            return widget;
          });
        }
      }),
      commands.addCommand(CommandIDs.experimentCharts, {
        label: 'Experiment Charts',
        caption: "Every metric of an experiment's runs: the runs selected in the table, else its loaded runs",
        describedBy: { args: { type: 'object', properties: { experimentId: { type: 'number' } } } },
        isEnabled: args => typeof (args.experimentId ?? panel.browser.experimentId) === 'number',
        execute: args => {
          const experimentId = Number(args.experimentId ?? panel.browser.experimentId);
          openInMain(`mlws-charts-${experimentId}`, () => {
            const widget = new MainAreaWidget({ content: new ChartsWidget(workspace, panel.browser, experimentId) });
            const name = panel.browser.experiments?.find(e => e.experiment_id === experimentId)?.name;
            widget.title.label = `Charts: ${name ?? `experiment ${experimentId}`}`;
            widget.title.icon = workspaceIcon;
            widget.title.closable = true;
            return widget;
          });
        }
      }),
      commands.addCommand(CommandIDs.openData, {
        label: 'Show Data Version in ML Workspace',
        describedBy: {
          args: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'number' } } }
        },
        execute: async args => {
          if (typeof args.name === 'string' && args.name) {
            shell.activateById(panel.id);
            await panel.openData(args.name, typeof args.version === 'number' ? args.version : null);
          }
        }
      }),
      commands.addCommand(CommandIDs.goToCell, {
        label: 'Go to the Cell of a Run',
        describedBy: {
          args: {
            type: 'object',
            properties: { path: { type: 'string' }, cellId: { type: 'string' } }
          }
        },
        execute: args =>
          goToCell(String(args.path ?? ''), typeof args.cellId === 'string' ? args.cellId : null)
      }),
      commands.addCommand(CommandIDs.runCellTracked, {
        label: 'Run Cell as Tracked Run',
        caption: 'Make the active cell a %%mlrun cell (if it is not) and run it',
        icon: workspaceIcon,
        isEnabled: () => isNotebookPanel(shell.currentWidget),
        execute: async () => {
          const widget = shell.currentWidget;
          if (!isNotebookPanel(widget)) {
            return;
          }
          const cell = widget.content.activeCell;
          if (!cell || cell.model.type !== 'code') {
            Notification.info('Select a code cell to run it as a tracked run.', { autoClose: 4000 });
            return;
          }
          const source = cell.model.sharedModel.getSource();
          const tracked = asTrackedCell(source);
          if (tracked !== source) {
            cell.model.sharedModel.setSource(tracked);
          }
          await commands.execute('notebook:run-cell');
        }
      })
    );
    // The notebook toolbar button, added to every notebook panel opened.
    parts.push(
      app.docRegistry.addWidgetExtension('Notebook', {
        createNew: (widget: Widget) => {
          const panelLike = widget as INotebookPanelLike;
          const button = new ToolbarButton({
            icon: workspaceIcon,
            label: 'Run tracked',
            tooltip: 'Run cell as tracked run (%%mlrun)',
            className: 'jp-mlws-run-tracked',
            onClick: () => {
              shell.activateById(widget.id);
              void commands.execute(CommandIDs.runCellTracked);
            }
          });
          panelLike.toolbar?.insertItem(10, 'mlwsRunTracked', button);
          return button;
        }
      })
    );
    if (palette) {
      for (const command of [CommandIDs.openRun, CommandIDs.runCellTracked, CommandIDs.experimentCharts]) {
        parts.push(palette.addItem({ command, category: 'ML Workspace' }));
      }
    }
    const links = new RunLinkHandler(runId => {
      void commands.execute(CommandIDs.openRun, { runId });
    });
    parts.push(
      watchRunNotifications(app, workspace, {
        openRun: runId => void commands.execute(CommandIDs.openRun, { runId }),
        compareRuns: runIds => void commands.execute(CommandIDs.compareRuns, { runIds })
      })
    );
    parts.push(watchComputeEvents(app, panel.compute));
    parts.push(watchRegistryEvents(app, panel.models, panel.endpoints));
    sidebarParts = [links, ...parts, panel];
  },
  deactivate: (): void => {
    for (const part of sidebarParts.splice(0)) {
      part.dispose();
    }
  }
};

export default [workspacePlugin, sidebarPlugin];
