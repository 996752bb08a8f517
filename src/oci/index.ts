/** The OCI image model: types, media types, references, validation, platforms, ChainIDs. */
export type * from './types.js';
export * from './mediatypes.js';
export * from './reference.js';
export * from './validate.js';
export * from './platform.js';
export * from './chain.js';
