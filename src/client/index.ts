export { EngineClient, MAX_API_VERSION, negotiateVersion, encodeQuery } from './engine.js';
export type { Query, RequestOptions, EngineClientOptions } from './engine.js';
export { ApiError, DaemonUnreachableError, StreamError } from './errors.js';
export { DEFAULT_HOST, parseHost, resolveHostString } from './host.js';
export type { HostAddress } from './host.js';
export { readJsonLines } from './jsonstream.js';
export { StdcopyDemuxer, demuxStream, encodeFrame } from './stdcopy.js';
