/**
 * The gateway's background calls (click and refusal notes, never awaited by a caller): closing the
 * app waits for them, so none is left retrying on a connection being closed.
 */
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createInviteGateway } from '../../api/invites-gateway';

// The background bookkeeping never touches the client.
const gateway = () => createInviteGateway({} as Client, { taskQueue: 'invites' });

describe('background calls', () => {
  it('drain waits for every call in flight, also one started while draining, and survives a failed one', async () => {
    const g = gateway();
    const done: string[] = [];
    let releaseFirst!: () => void;
    g.background(() => new Promise<void>((resolve) => (releaseFirst = resolve)).then(() => void done.push('first')));
    g.background(() => Promise.reject(new Error('the server is down')));
    let drained = false;
    const draining = g.drain().then(() => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    let releaseSecond!: () => void;
    g.background(() => new Promise<void>((resolve) => (releaseSecond = resolve)).then(() => void done.push('second')));
    releaseFirst();
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    releaseSecond();
    await draining;
    expect(done).toEqual(['first', 'second']);
  });

  it('drains at once when nothing runs', async () => {
    await expect(gateway().drain()).resolves.toBeUndefined();
  });
});
