/** An error reply of the Engine API: status code plus the daemon's `message`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all (refused, missing socket). */
export class DaemonUnreachableError extends Error {
  constructor(readonly hostUrl: string, options?: { cause?: unknown }) {
    // Docker's wording, so scripts grepping for it keep working.
    super(`Cannot connect to the Docker daemon at ${hostUrl}. Is the docker daemon running?`, options);
    this.name = 'DaemonUnreachableError';
  }
}

/** An `errorDetail` inside a JSON message stream; `code` becomes the exit status. */
export class StreamError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = 'StreamError';
  }
}
