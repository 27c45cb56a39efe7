/** Signed webhooks both ways: our Stripe-shaped header, Mailgun's signature, our Message-IDs. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inviteOfMessageId, signWebhook, verifyMailgunSignature, verifyWebhookSignature } from '../../lib/webhook-signature';

const SECRET = 'a-webhook-secret-of-at-least-32-characters';
const BODY = '{"type":"bounce","inviteId":"0123456789abcdef0123"}';
const NOW = 1_764_000_000;

describe('verifyWebhookSignature', () => {
  it('accepts its own signature, also alongside an old one during a rotation', () => {
    const header = signWebhook(SECRET, BODY, NOW);
    expect(verifyWebhookSignature(SECRET, header, BODY, NOW)).toBeUndefined();
    const old = signWebhook('the-previous-secret-also-32-characters-long', BODY, NOW).split(',')[1]!;
    expect(verifyWebhookSignature(SECRET, `${header},${old}`, BODY, NOW)).toBeUndefined();
  });

  it('refuses a missing, malformed, stale, forged or tampered signature', () => {
    const header = signWebhook(SECRET, BODY, NOW);
    expect(verifyWebhookSignature(SECRET, undefined, BODY, NOW)).toBe('missing');
    expect(verifyWebhookSignature(SECRET, 'v1=abc', BODY, NOW)).toBe('malformed');
    expect(verifyWebhookSignature(SECRET, 'nonsense', BODY, NOW)).toBe('malformed');
    expect(verifyWebhookSignature(SECRET, `t=${NOW}`, BODY, NOW)).toBe('malformed');
    // Replayed after the tolerance, or sent from a clock far ahead.
    expect(verifyWebhookSignature(SECRET, header, BODY, NOW + 301)).toBe('stale');
    expect(verifyWebhookSignature(SECRET, header, BODY, NOW - 301)).toBe('stale');
    expect(verifyWebhookSignature(SECRET, signWebhook('another-secret-of-at-least-32-characters', BODY, NOW), BODY, NOW)).toBe('mismatch');
    expect(verifyWebhookSignature(SECRET, header, BODY.replace('bounce', 'complaint'), NOW)).toBe('mismatch');
    // The timestamp is signed: moving it forward breaks the signature.
    expect(verifyWebhookSignature(SECRET, header.replace(`t=${NOW}`, `t=${NOW + 60}`), BODY, NOW + 60)).toBe('mismatch');
    expect(verifyWebhookSignature(SECRET, `t=${NOW},v1=${'0'.repeat(63)}`, BODY, NOW)).toBe('mismatch');
  });
});

describe('verifyMailgunSignature', () => {
  const KEY = 'key-mailgun-signing-0123456789';
  const sign = (timestamp: string, token: string) => createHmac('sha256', KEY).update(timestamp + token).digest('hex');

  it('accepts Mailgun’s HMAC of timestamp and token, and refuses forged, stale and malformed ones', () => {
    const timestamp = String(NOW);
    const token = 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0';
    expect(verifyMailgunSignature(KEY, { timestamp, token, signature: sign(timestamp, token) }, NOW)).toBeUndefined();
    expect(verifyMailgunSignature('another-key-0123456789', { timestamp, token, signature: sign(timestamp, token) }, NOW)).toBe('mismatch');
    expect(verifyMailgunSignature(KEY, { timestamp, token: `${token}x`, signature: sign(timestamp, token) }, NOW)).toBe('mismatch');
    expect(verifyMailgunSignature(KEY, { timestamp, token, signature: sign(timestamp, token) }, NOW + 600)).toBe('stale');
    expect(verifyMailgunSignature(KEY, { timestamp: 'soon', token, signature: sign(timestamp, token) }, NOW)).toBe('malformed');
    expect(verifyMailgunSignature(KEY, { timestamp, token, signature: 'zz' }, NOW)).toBe('malformed');
  });
});

describe('inviteOfMessageId', () => {
  it('reads the invite and the email number of our Message-IDs only', () => {
    expect(inviteOfMessageId('<invite.0123456789abcdef0123.2@acme.example>')).toEqual({ inviteId: '0123456789abcdef0123', sequence: 2 });
    expect(inviteOfMessageId('invite.0123456789abcdef0123.1@acme.example')).toEqual({ inviteId: '0123456789abcdef0123', sequence: 1 });
    expect(inviteOfMessageId('20130503182626.18666.16540@sandbox.mailgun.org')).toBeUndefined();
    expect(inviteOfMessageId('<invite.SHORT.1@acme.example>')).toBeUndefined();
    expect(inviteOfMessageId('<invite.0123456789abcdef0123.1@a@b>')).toBeUndefined();
  });
});
