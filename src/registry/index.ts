/** The registry's public surface. */
export { createRegistry, type Registry, type RegistryOptions, type TokenAuthOptions } from './server.js';
export { registryServe, registryGarbageCollect, parseConfig } from './cli.js';
export { garbageCollect, type GcOptions, type GcResult } from './gc.js';
export type { StorageDriver, AppendWriter, StatInfo } from './storage/driver.js';
export { FsDriver } from './storage/fs.js';
export { RegistryStore } from './storage/store.js';
export { Htpasswd } from './auth/htpasswd.js';
export { Bcrypt } from './auth/bcrypt.js';
export { loadTokenKeys, loadTokenKeysFile, signJwt, verifyJwt, type AclEntry, type TokenKeys } from './auth/token.js';
