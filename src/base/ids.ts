import { randomBytes } from 'node:crypto';

/** 64 hex characters, as Docker's container and exec IDs. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}
