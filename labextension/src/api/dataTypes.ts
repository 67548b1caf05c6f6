/**
 * Names for the shapes of the `/data` part of the `/mlws/api/v1` API (data
 * assets, issue 16), used by the panel's Data tab: aliases into `schema.ts`,
 * generated from the server's pydantic models (`jlpm gen:api`), so the
 * compiler checks the client against the server.
 */
import { components } from './schema';

type Schemas = components['schemas'];

/** A data asset's name and its newest version number (`GET /data` lists these, by name). */
export type IDataAsset = Schemas['DataAssetModel'];

/** `GET /data` */
export type IDataAssetList = Schemas['DataAssetList'];

/** One file of a data version: its path in the version, size and sha256 (its blob). */
export type IDataFile = Schemas['DataFileModel'];

/** One version of a data asset: its files, digest, size, source and the run that registered it. */
export type IDataVersion = Schemas['DataVersionModel'];

/** `GET /data/{name}/versions`: oldest first. */
export type IDataVersionList = Schemas['DataVersionList'];
