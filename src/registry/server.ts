/**
 * Wires a registry together: storage → store → routes → node:http(s).
 * `createRegistry` is what tests and berthd use; `cli.ts` adds flags.
 */
import { availableParallelism } from 'node:os';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../base/log.js';
import { Sys } from '../base/sys.js';
import type { StorageDriver } from './storage/driver.js';
import { FsDriver } from './storage/fs.js';
import { RegistryStore } from './storage/store.js';
import { dispatcher, routes } from './handlers/routes.js';
import type { RegistryContext } from './handlers/http.js';
import type { Authenticator } from './auth/types.js';
import { Htpasswd, HtpasswdAuthenticator } from './auth/htpasswd.js';
import { TokenAuthenticator, TokenIssuer, type AclEntry, type TokenKeys } from './auth/token.js';

export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  keys: TokenKeys;
  /** Serve the built-in token endpoint (needs a private key and htpasswd). */
  issue?: boolean;
  acl?: AclEntry[];
  /** Token lifetime, seconds. */
  expiration?: number;
}

export interface RegistryOptions {
  /** A storage root for the filesystem driver; ignored when `driver` is given. */
  root?: string;
  driver?: StorageDriver;
  /** A ready store (e.g. berthd's view of its image store); `root` and `driver` are then ignored. */
  store?: RegistryStore;
  log?: Logger;
  /** htpasswd users: basic auth alone, or the token issuer's user database. */
  htpasswd?: Htpasswd;
  htpasswdRealm?: string;
  token?: TokenAuthOptions;
  /** Path of the built-in token endpoint (default /token). */
  tokenPath?: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Manifest, tag and blob deletes (default on, as the spec's conformance tests expect). */
  deleteEnabled?: boolean;
  cacheSize?: number;
  /** Threads hashing uploads when the registry makes its store (default: one per CPU). */
  hashThreads?: number;
  /** libc bindings (sendfile for blob bodies); one is created when omitted. */
  sys?: Sys;
}

export interface Registry {
  server: HttpServer | HttpsServer;
  store: RegistryStore;
  /** Starts listening; resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, drops idle keep-alive connections, waits for the rest. */
  close(): Promise<void>;
}

export function createRegistry(opts: RegistryOptions): Registry {
  const log = opts.log ?? silentLogger;
  let store = opts.store;
  // A store made here is this registry's to close; one passed in belongs to its maker.
  const ownStore = store === undefined;
  if (store === undefined) {
    const driver = opts.driver ?? (opts.root !== undefined ? new FsDriver(opts.root) : undefined);
    if (driver === undefined) throw new Error('registry: a storage root, driver or store is required');
    store = new RegistryStore(driver, {
      log,
      hashThreads: opts.hashThreads ?? availableParallelism(),
      ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
    });
  }

  let auth: Authenticator | undefined;
  let tokenIssuer: TokenIssuer | undefined;
  if (opts.token !== undefined) {
    const t = opts.token;
    auth = new TokenAuthenticator(t.keys, t);
    if (t.issue === true) {
      if (opts.htpasswd === undefined) throw new Error('registry: the token issuer needs an htpasswd file');
      const io = { realm: t.realm, service: t.service, issuer: t.issuer, keys: t.keys, htpasswd: opts.htpasswd };
      tokenIssuer = new TokenIssuer({
        ...io,
        ...(t.acl !== undefined ? { acl: t.acl } : {}),
        ...(t.expiration !== undefined ? { expiration: t.expiration } : {}),
      });
    }
  } else if (opts.htpasswd !== undefined) {
    auth = new HtpasswdAuthenticator(opts.htpasswd, opts.htpasswdRealm ?? 'berth-registry');
  }

  const tokenPath = opts.tokenPath ?? '/token';
  const sys = opts.sys ?? new Sys();
  const ctx: RegistryContext = { store, log, auth, tokenIssuer, tokenPath, deleteEnabled: opts.deleteEnabled ?? true, sys };
  const listener = dispatcher(ctx, routes(tokenPath));
  const server = opts.tls !== undefined ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttpServer(listener);
  // Large layer uploads can take long: no whole-request deadline, only one on headers.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;

  return {
    server,
    store,
    listen(port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a moment to finish, then are cut so shutdown is bounded.
        const t = setTimeout(() => server.closeAllConnections(), 2_000);
        t.unref();
      });
      if (ownStore) await store.close();
    },
  };
}
