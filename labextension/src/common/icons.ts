import { LabIcon } from '@jupyterlab/ui-components';

import workspaceSvg from '../../style/icons/mlws.svg';

/** The ML Workspace icon: the sidebar tab, launcher items and commands use it. */
export const workspaceIcon = new LabIcon({
  name: 'jupyter-mlws:workspace',
  svgstr: workspaceSvg
});
