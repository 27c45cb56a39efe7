/**
 * The funnel webhook against a real local HTTP receiver: signed JSON with a stable event id,
 * retry decisions by status, nothing sent when unconfigured.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createWebhookActivities } from '../../activities/webhook';
import type { FunnelEvent } from '../../activities/webhook';
import { verifyWebhookSignature } from '../../lib/webhook-signature';
import { InviteErrorType } from '../../workflows/errors';

const SECRET = 'funnel-webhook-secret-of-32-characters!';

let server: Server;
let url: string;
let received: { headers: IncomingHttpHeaders; body: string }[];
let answer: { status: number; headers?: Record<string, string> };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answer.status, answer.headers).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/inviteflow`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  answer = { status: 204 };
});

const event: FunnelEvent = {
  id: '5f0c6a8e-0000-4000-8000-000000000001',
  type: 'invite.undeliverable',
  occurredAt: '2026-11-25T10:00:00.000Z',
  invite: { id: '0123456789abcdef0123', email: 'ada@example.com', scope: 'default', state: 'undeliverable', expiresAt: '2026-12-02T10:00:00.000Z', data: { leadId: 'L-1' } },
  detail: { kind: 'bounce' },
};

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('notifyFunnel', () => {
  it('posts the event as JSON, signed over the exact body, with its id as the idempotency key', async () => {
    const webhook = createWebhookActivities({ url, secret: SECRET });
    expect(await webhook.notifyFunnel(event)).toEqual({ delivered: true, status: 204 });
    expect(received).toHaveLength(1);
    const [call] = received;
    expect(JSON.parse(call!.body)).toEqual(event);
    expect(call!.headers['content-type']).toBe('application/json');
    expect(call!.headers['inviteflow-event-id']).toBe(event.id);
    expect(verifyWebhookSignature(SECRET, call!.headers['inviteflow-signature'] as string, call!.body)).toBeUndefined();
    expect(verifyWebhookSignature('not-the-secret-but-32-characters-long', call!.headers['inviteflow-signature'] as string, call!.body)).toBe('mismatch');
    // A retry sends the same id, so the receiver can drop the duplicate.
    await webhook.notifyFunnel(event);
    expect(received[1]!.headers['inviteflow-event-id']).toBe(event.id);
  });

  it('asks Temporal to retry a 429 or 5xx after the Retry-After, and stops on another 4xx', async () => {
    const webhook = createWebhookActivities({ url, secret: SECRET });
    const notifyFunnel = (e: FunnelEvent) => webhook.notifyFunnel(e);
    answer = { status: 429, headers: { 'retry-after': '30' } };
    const throttled = await failureOf(notifyFunnel(event));
    expect(throttled).toMatchObject({ type: InviteErrorType.Transient, nonRetryable: false, nextRetryDelay: 30_000 });
    answer = { status: 503 };
    expect(await failureOf(notifyFunnel(event))).toMatchObject({ type: InviteErrorType.Transient, nonRetryable: false });
    answer = { status: 400 };
    const refused = await failureOf(notifyFunnel(event));
    expect(refused).toMatchObject({ type: InviteErrorType.Permanent, nonRetryable: true });
    expect(refused.message).toBe('funnel webhook answered 400');
  });

  it('retries when the receiver is unreachable, and sends nothing when no webhook is configured', async () => {
    const down = createWebhookActivities({ url: 'http://127.0.0.1:1/hook', secret: SECRET });
    expect(await failureOf(down.notifyFunnel(event))).toMatchObject({ type: InviteErrorType.Transient, nonRetryable: false });
    const none = createWebhookActivities({});
    expect(await none.notifyFunnel(event)).toEqual({ delivered: false });
    expect(received).toEqual([]);
  });
});
