import { randomBytes } from 'node:crypto';

/** A fresh, valid email address for a test, so that tests sharing a server never meet. */
export function uniqueEmail(name = 'ada'): string {
  return `${name}.${randomBytes(5).toString('hex')}@example.com`;
}
