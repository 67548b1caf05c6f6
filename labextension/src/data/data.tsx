import * as React from 'react';

import { IDataAsset, IDataVersion } from '../api/dataTypes';
import { formatBytes } from '../compute/compute';
import { shortSha } from '../models/models';
import { formatTime } from '../runs/runformat';
import { DataTabModel } from './dataModel';
import { VersionFiles, VersionReaders } from './dataVersion';
import { dataRef } from './lineage';

/**
 * The Data tab of the ML Workspace panel: the data assets with their newest
 * version, description and times; an asset opens into its versions (newest
 * first: file count, size, sha256, source, created, the run that
 * registered it); a version opens into its files and the runs that read it
 * ("Read by", each opening the run view).
 *
 * Who calls what: `WorkspacePanel` renders `DataView` inside a `UseSignal`
 * on `DataTabModel.changed`; the model polls while the tab is shown.
 * Everything renders as text: names, paths, descriptions and sources are
 * user input, never HTML.
 */

export interface IDataViewProps {
  model: DataTabModel;
  onOpenRun: (runId: string) => void;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function SourceRun({ model, runId, onOpenRun }: IDataViewProps & { runId: string }): JSX.Element {
  const run = model.sourceRuns.get(runId);
  const label = run ? run.name : runId.slice(0, 8);
  return (
    <>
      <button
        className="jp-mlws-link"
        onClick={() => onOpenRun(runId)}
        title={`Open run ${runId}`}
        aria-label={`Open registering run ${label}`}
      >
        {label}
      </button>
      {run?.experimentName && <span className="jp-mlws-muted"> in {run.experimentName}</span>}
      {run === null && <span className="jp-mlws-muted"> (the run is gone)</span>}
    </>
  );
}

function VersionItem({ version, ...props }: IDataViewProps & { version: IDataVersion }): JSX.Element {
  const { model } = props;
  const ref = dataRef(version.name, version.version);
  const open = model.isVersionOpen(version.name, version.version);
  const item = React.useRef<HTMLLIElement>(null);
  React.useEffect(() => {
    if (model.revealed === ref && item.current) {
      item.current.scrollIntoView({ block: 'nearest' });
      model.revealDone();
    }
  });
  const count = plural(version.files.length, 'file');
  return (
    <li className="jp-mlws-version" aria-label={`Version ${version.version}`} data-version={version.version} ref={item}>
      <button
        className="jp-mlws-model-head"
        aria-expanded={open}
        onClick={() => void model.toggleVersion(version.name, version.version)}
        title={open ? 'Hide the files and readers' : 'Show the files and the runs that read it'}
      >
        <span className="jp-mlws-caret" aria-hidden="true">{open ? '▾' : '▸'}</span>
        <span className="jp-mlws-version-number">v{version.version}</span>
        <span className="jp-mlws-muted">
          {count} · {formatBytes(version.size_bytes)}
        </span>
      </button>
      <dl className="jp-mlws-version-facts">
        <dt>sha256</dt>
        <dd aria-label="sha256" title={version.sha256}>
          <code>{shortSha(version.sha256)}</code>
        </dd>
        {version.source && (
          <>
            <dt>source</dt>
            <dd aria-label="Source" title={version.source}>
              <code>{version.source}</code>
            </dd>
          </>
        )}
        <dt>created</dt>
        <dd aria-label="Created">{formatTime(version.created_time)}</dd>
        {version.source_run_id && (
          <>
            <dt>run</dt>
            <dd aria-label="Registered by">
              <SourceRun {...props} runId={version.source_run_id} />
            </dd>
          </>
        )}
      </dl>
      {version.description && <div className="jp-mlws-version-description">{version.description}</div>}
      {open && (
        <div className="jp-mlws-data-version-detail">
          <VersionFiles version={version} />
          <VersionReaders readers={model.readers.get(ref)} dataRef={ref} onOpenRun={props.onOpenRun} />
        </div>
      )}
    </li>
  );
}

function AssetItem({ asset, ...props }: IDataViewProps & { asset: IDataAsset }): JSX.Element {
  const { model } = props;
  const open = model.isOpen(asset.name);
  const versions = model.versions.get(asset.name);
  return (
    <li className="jp-mlws-model jp-mlws-data-asset" aria-label={`Data asset ${asset.name}`} data-asset={asset.name}>
      <button
        className="jp-mlws-model-head"
        aria-expanded={open}
        onClick={() => void model.toggle(asset.name)}
        title={open ? 'Hide the versions' : 'Show the versions'}
      >
        <span className="jp-mlws-caret" aria-hidden="true">{open ? '▾' : '▸'}</span>
        <span className="jp-mlws-model-name">{asset.name}</span>
        <span className="jp-mlws-muted">latest v{asset.latest_version}</span>
      </button>
      {asset.description && <div className="jp-mlws-model-description">{asset.description}</div>}
      <div className="jp-mlws-muted jp-mlws-data-times">
        <span aria-label="Created">created {formatTime(asset.created_time)}</span>
        {asset.updated_time !== asset.created_time && (
          <span aria-label="Updated"> · updated {formatTime(asset.updated_time)}</span>
        )}
      </div>
      {open &&
        (versions === undefined ? (
          <div className="jp-mlws-loading">Loading versions…</div>
        ) : (
          <ul className="jp-mlws-versions" aria-label={`Versions of ${asset.name}`}>
            {versions.map(v => (
              <VersionItem key={v.version} version={v} {...props} />
            ))}
          </ul>
        ))}
    </li>
  );
}

/** The Data tab's content. */
export function DataView(props: IDataViewProps): JSX.Element {
  const { model } = props;
  const assets = model.assets;
  return (
    <section className="jp-mlws-registry jp-mlws-data" aria-label="Data assets">
      <div className="jp-mlws-toolbar">
        <h3>Data</h3>
        <button className="jp-mod-styled jp-mlws-small" onClick={() => void model.refresh()}>
          Refresh
        </button>
      </div>
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      {assets === null ? (
        model.error === null && <div className="jp-mlws-loading">Loading data assets…</div>
      ) : assets.length === 0 ? (
        <p className="jp-mlws-muted">
          No data assets yet. Register a folder, a glob or a URL from a notebook with{' '}
          <code>ws.data.register("name", path="data/")</code>, then give it to a job as{' '}
          <code>inputs={'{'}"rows": "data:name"{'}'}</code>.
        </p>
      ) : (
        <ul className="jp-mlws-model-list">
          {assets.map(a => (
            <AssetItem key={a.name} asset={a} {...props} />
          ))}
        </ul>
      )}
    </section>
  );
}
