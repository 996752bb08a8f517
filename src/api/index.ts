/**
 * The Engine API transport: server, router, request/response helpers, error
 * mapping, stdcopy framing, and the system and events route groups.
 * Route groups for other resources live in ./routes and are registered by
 * the composition root (see the doc comment in router.ts).
 */
export { ApiServer, type ApiServerOptions, type ListenOptions } from './server.js';
export {
  Router,
  API_VERSION,
  MIN_API_VERSION,
  compareVersions,
  splitVersion,
  compileTemplate,
  type Route,
  type Handler,
  type Method,
  type Params,
  type Match,
  type VersionCheck,
} from './router.js';
export {
  ApiRequest,
  ApiResponse,
  JsonStream,
  Query,
  parseGoBool,
  parseFilters,
  type RegistryAuth,
  type Terminator,
} from './http.js';
export { HttpError, httpStatusOf, sendError } from './errors.js';
export { goJson, decodeJsonLikeGo, JsonSyntaxError } from './gojson.js';
export { frame, frameHeader, FrameDecoder, STDIN, STDOUT, STDERR, type StdStream } from './stdcopy.js';
export {
  systemRoutes,
  collectSystemFacts,
  versionBody,
  infoBody,
  type SystemFacts,
  type SystemInfoSource,
  type SystemCounts,
  type ComponentVersion,
} from './routes/system.js';
export { eventRoutes, eventFilter, parseEventTime } from './routes/events.js';
