/**
 * Signed JSON webhooks, both ways: the funnel webhook we send and the generic email-events form
 * we receive use the same Stripe-shaped header, `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">`. The timestamp is signed too, so a captured call replays only within the
 * tolerance; the comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'inviteflow-signature';
/** Header carrying the event id (the receiver's idempotency key). */
export const EVENT_ID_HEADER = 'inviteflow-event-id';
/** How far a signature's timestamp may lie from the receiver's clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** `t=…,v1=…` for a body signed at `timestampSeconds`. */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** Why a signature was refused. */
export type SignatureProblem = 'missing' | 'malformed' | 'stale' | 'mismatch';

/**
 * Checks a `t=…,v1=…` signature of `body`; returns the problem, or undefined when it is valid.
 * Several `v1` values are accepted, so a sender can sign with the old and the new secret while
 * the secret rotates.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  toleranceSeconds: number = SIGNATURE_TOLERANCE_SECONDS,
): SignatureProblem | undefined {
  if (!header) return 'missing';
  let t: string | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return 'malformed';
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t ??= value;
    else if (key === 'v1') candidates.push(value);
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) return 'malformed';
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return 'stale';
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const valid = candidates.some((hex) => /^[0-9a-f]{64}$/i.test(hex) && timingSafeEqual(expected, Buffer.from(hex, 'hex')));
  return valid ? undefined : 'mismatch';
}

/**
 * Checks a Mailgun webhook signature (HMAC-SHA256 of `timestamp + token` with the account's
 * webhook signing key, hex) in constant time, with the same timestamp tolerance.
 */
export function verifyMailgunSignature(
  signingKey: string,
  signature: { timestamp: string; token: string; signature: string },
  nowSeconds: number = Math.floor(Date.now() / 1000),
  toleranceSeconds: number = SIGNATURE_TOLERANCE_SECONDS,
): SignatureProblem | undefined {
  if (!/^\d{1,12}$/.test(signature.timestamp) || !/^[0-9a-f]{64}$/i.test(signature.signature)) return 'malformed';
  if (Math.abs(nowSeconds - Number(signature.timestamp)) > toleranceSeconds) return 'stale';
  const expected = createHmac('sha256', signingKey).update(signature.timestamp + signature.token).digest();
  return timingSafeEqual(expected, Buffer.from(signature.signature, 'hex')) ? undefined : 'mismatch';
}

/** The invite and email number of one of our Message-IDs (`<invite.<id>.<n>@domain>`), if it is one. */
export function inviteOfMessageId(messageId: string): { inviteId: string; sequence: number } | undefined {
  const match = /^<?invite\.([a-z0-9]{16,64})\.(\d{1,4})@[^\s<>@]+>?$/.exec(messageId.trim());
  return match ? { inviteId: match[1]!, sequence: Number(match[2]) } : undefined;
}
