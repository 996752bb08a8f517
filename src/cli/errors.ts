/** A CLI failure with the exit status docker would use (cli.StatusError). */
export class StatusError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'StatusError';
  }
}
