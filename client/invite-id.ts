/**
 * Invite ids are a keyed hash of the normalized email and the scope. The same person invited
 * twice to the same thing gets the same workflow id, so Temporal's id-conflict policy enforces
 * "one open invite per email+scope" even under concurrent funnel retries; the key keeps the id
 * from revealing (or letting anyone confirm) the email.
 */
import { createHmac } from 'node:crypto';

/** Lower-case base32 (RFC 4648 alphabet) without padding: safe in URLs and workflow ids. */
function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** The invite id for a normalized email and a scope: 26 base32 characters (130 bits). */
export function deriveInviteId(key: string, normalizedEmail: string, scope: string): string {
  if (key.length < 16) throw new Error('the invite id key must be at least 16 characters');
  const mac = createHmac('sha256', key).update(`${normalizedEmail}\n${scope}`).digest();
  return base32(mac.subarray(0, 17)).slice(0, 26);
}
