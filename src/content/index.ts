/**
 * Public API of the content layer. The conformance suite lives in
 * './testsuite.js' and is imported directly by tests (it pulls in node:test).
 */
export type { BlobInfo, ContentStore, ContentWriter, Expected, IngestStatus } from './types.js';
export { LocalContentStore, LocalContentWriter, CONTENT_HWM } from './local.js';
export type { LeaseRegistry, LocalContentStoreOptions, WriterOptions } from './local.js';
export { LeaseManager } from './leases.js';
export type { Lease, LeaseOptions } from './leases.js';
export { collect, ContentGc } from './gc.js';
export type { CollectOptions, CollectResult, ContentGcOptions, ContentGcResult } from './gc.js';
