// The client-side outbound pacer (activities/outbound-pacer.ts) on an injected clock: the send times it hands
// out never overfill a window nor overdraw Auth0's token bucket, an activity's requests are
// reserved all or none, a call whose turn is too far away is refused with the right retry delay
// and keeps nothing, and the paced fetch takes its activity's reserved times in order.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagementRateLimiter } from '../../emulators/auth0/management';
import { DEFAULT_MARGIN_MS, pacedActivity, pacedFetch, OutboundPacer } from '../../activities/outbound-pacer';
import type { OutboundPacerOptions } from '../../activities/outbound-pacer';
import { InviteErrorType } from '../../workflows/errors';

const T0 = 1_750_000_000_000;

/** A pacer on a clock the test moves. */
function clocked(opts: Omit<OutboundPacerOptions, 'now'>) {
  const clock = { t: T0 };
  const pacer = new OutboundPacer({ ...opts, now: () => clock.t });
  return { clock, pacer };
}

function reserved(pacer: OutboundPacer, count: number): number[] {
  const turn = pacer.reserve(count);
  if (!turn.ok) throw new Error(`refused for ${turn.waitMs} ms`);
  return turn.at;
}

// Every `max + 1` consecutive sends span more than a window: no window holds more than `max`.
function expectNoWindowOverfilled(sends: number[], max: number, windowMs: number): void {
  const sorted = [...sends].sort((a, b) => a - b);
  for (let i = 0; i + max < sorted.length; i++)
    expect(sorted[i + max]! - sorted[i]!).toBeGreaterThan(windowMs);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('OutboundPacer.reserve', () => {
  it('hands out `max` sends per window, the next ones a window (and a margin) later', () => {
    const { pacer } = clocked({ max: 2, windowMs: 1000 });
    const step = 1000 + DEFAULT_MARGIN_MS;
    expect(reserved(pacer, 5).map((t) => t - T0)).toEqual([0, 0, step, step, 2 * step]);
    expect(reserved(pacer, 1).map((t) => t - T0)).toEqual([2 * step]);
    expect(pacer.stats()).toEqual({ reserved: 6, released: 0, refused: 0, throttled: 0, held: 0 });
  });

  it('never lets a window hold more than `max`, whatever is reserved, released and refused when', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 100, max: 3000 }),
        fc.array(
          fc.record({
            advanceMs: fc.integer({ min: 0, max: 1500 }),
            count: fc.integer({ min: 0, max: 6 }),
            releaseLast: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        (max, windowMs, steps) => {
          const { clock, pacer } = clocked({ max, windowMs, maxWaitMs: 4 * windowMs });
          const sends: number[] = [];
          for (const step of steps) {
            clock.t += step.advanceMs;
            const turn = pacer.reserve(step.count);
            if (!turn.ok) continue;
            // Every reservation is at or after the moment it was made, in order.
            expect(turn.at.every((t, i) => t >= clock.t && (i === 0 || t >= turn.at[i - 1]!))).toBe(true);
            // An activity that made fewer requests than it declared hands the rest back.
            if (step.releaseLast && turn.at.length > 0) {
              pacer.release(turn.at.slice(-1));
              sends.push(...turn.at.slice(0, -1));
            } else sends.push(...turn.at);
          }
          expectNoWindowOverfilled(sends, max, windowMs);
        },
      ),
    );
  });

  it("never overdraws Auth0's token bucket (the emulator's) at 2/s with a bucket of 2", () => {
    const base = Date.now() + 1000;
    const bucket = new ManagementRateLimiter(2, 2);
    const clock = { t: base };
    const pacer = OutboundPacer.perSecond(2, undefined, { now: () => clock.t, maxWaitMs: 60_000 });
    expect([pacer.max, pacer.windowMs]).toEqual([2, 1000]);
    const sends: number[] = [];
    for (let i = 0; i < 40; i++) {
      clock.t += (i * 137) % 700;
      sends.push(...reserved(pacer, 1 + (i % 4)));
    }
    sends.sort((a, b) => a - b);
    expect(sends.map((t) => bucket.take(t).allowed)).not.toContain(false);
  });

  it('defaults the burst to the rate rounded down, at least one', () => {
    expect([OutboundPacer.perSecond(15).max, OutboundPacer.perSecond(15).windowMs]).toEqual([15, 1000]);
    expect([OutboundPacer.perSecond(0.5).max, OutboundPacer.perSecond(0.5).windowMs]).toEqual([1, 2000]);
    expect([OutboundPacer.perSecond(2, 4).max, OutboundPacer.perSecond(2, 4).windowMs]).toEqual([4, 2000]);
  });

  it("reserves an activity's requests all together, before anyone else's", () => {
    const { pacer } = clocked({ max: 2, windowMs: 1000 });
    const first = reserved(pacer, 3);
    const second = reserved(pacer, 1);
    expect(Math.max(...first)).toBeLessThanOrEqual(Math.min(...second));
    expect(second[0]! - T0).toBe(1025);
  });

  it('refuses a call whose last turn is beyond maxWait, with that wait, and keeps none of it', () => {
    const { pacer } = clocked({ max: 2, windowMs: 1000, maxWaitMs: 10_000 });
    // 19 sends: the last at 9 × 1025 ms = 9225 ms, within the wait.
    expect(reserved(pacer, 19).at(-1)! - T0).toBe(9225);
    // Two more would go at 9225 and 10 250 ms: the second is too far.
    expect(pacer.reserve(2)).toEqual({ ok: false, waitMs: 10_250 });
    expect(pacer.retryDelayFor(10_250)).toBe(5_250);
    // Nothing of the refused call was kept: one send still gets the refused call's first time.
    expect(reserved(pacer, 1).map((t) => t - T0)).toEqual([9225]);
    expect(pacer.stats()).toEqual({ reserved: 20, released: 0, refused: 1, throttled: 0, held: 0 });
  });

  it('keeps a refused caller’s turn under its ticket: its retry gets it, later callers queue behind', () => {
    const { clock, pacer } = clocked({ max: 2, windowMs: 1000, maxWaitMs: 10_000 });
    reserved(pacer, 19); // up to 9225 ms
    expect(pacer.reserve(2, 'wf/run/3')).toEqual({ ok: false, waitMs: 10_250 });
    // Someone else, later: behind the ticket's two sends (9225 and 10 250 ms), not in their place.
    expect(pacer.reserve(1)).toEqual({ ok: false, waitMs: 10_250 });
    // The retry, too early (its turn is still beyond the wait): refused again, the turn still kept.
    clock.t += 200;
    expect(pacer.reserve(2, 'wf/run/3')).toEqual({ ok: false, waitMs: 10_050 });
    // On time: exactly the kept sends.
    clock.t = T0 + 5_250;
    const turn = pacer.reserve(2, 'wf/run/3');
    expect(turn).toEqual({ ok: true, at: [T0 + 9225, T0 + 10_250] });
    expect(pacer.reserve(1).ok && pacer.stats()).toMatchObject({ reserved: 22, refused: 3 });
  });

  it('lets an unclaimed ticket lapse, and re-queues a ticket asked for a different count', () => {
    const { clock, pacer } = clocked({ max: 1, windowMs: 1000, maxWaitMs: 2500 });
    reserved(pacer, 3); // 0, 1025, 2050
    expect(pacer.reserve(1, 'a')).toEqual({ ok: false, waitMs: 3075 });
    expect(pacer.reserve(1, 'b')).toEqual({ ok: false, waitMs: 4100 });
    // 'a' never comes back; long after its send time plus the wait, its ticket is gone: a
    // later 'a' queues anew.
    clock.t = T0 + 3075 + 2501;
    expect(reserved(pacer, 0)).toEqual([]);
    const again = pacer.reserve(1, 'a');
    expect(again.ok && again.at[0]! - clock.t).toBe(0);
    // 'b' comes back wanting two requests: its one kept send goes back, and it queues for two.
    const b = pacer.reserve(2, 'b');
    expect(b.ok && b.at.map((t) => t - T0)).toEqual([6601, 7626]);
  });

  it('hands released send times to the next caller', () => {
    const { pacer } = clocked({ max: 1, windowMs: 1000 });
    const at = reserved(pacer, 3);
    pacer.release(at.slice(1));
    expect(reserved(pacer, 1).map((t) => t - T0)).toEqual([1025]);
    expect(pacer.stats()).toMatchObject({ reserved: 4, released: 2 });
  });

  it('after a real 429, hands out nothing before the time the service named', () => {
    const { clock, pacer } = clocked({ max: 2, windowMs: 1000 });
    pacer.pushBack(clock.t + 4000);
    expect(reserved(pacer, 3).map((t) => t - T0)).toEqual([4000, 4000, 5025]);
    expect(pacer.stats().throttled).toBe(1);
  });

  it('holds a send while the requests actually sent fill the window, however late they went', () => {
    const { clock, pacer } = clocked({ max: 2, windowMs: 1000 });
    expect(reserved(pacer, 4).map((t) => t - T0)).toEqual([0, 0, 1025, 1025]);
    // The first pair: one on time, one 50 ms late (it waited for its activity's first answer).
    expect(pacer.admit()).toBe(0);
    clock.t = T0 + 50;
    expect(pacer.admit()).toBe(0);
    // The second pair on time: the first may go, the second must let the late one leave the window.
    clock.t = T0 + 1025;
    expect(pacer.admit()).toBe(0);
    expect(pacer.admit()).toBe(50);
    clock.t = T0 + 1075;
    expect(pacer.admit()).toBe(0);
    // What went out conforms to Auth0's bucket of 2 at 2/s.
    const bucket = new ManagementRateLimiter(2, 2);
    const base = Date.now() + 1000;
    expect([0, 50, 1025, 1075].map((t) => bucket.take(base + t).allowed)).not.toContain(false);
  });

  it('waits for the reserved time and for room, counting the sends it held', async () => {
    vi.useFakeTimers({ now: T0 });
    const pacer = new OutboundPacer({ max: 1, windowMs: 1000 });
    const sentAt: number[] = [];
    const [first, second] = reserved(pacer, 2);
    // The first goes 300 ms late; the second, reserved for 1025, is held until 1325.
    await vi.advanceTimersByTimeAsync(300);
    void pacer.waitToSend(first!).then(() => sentAt.push(Date.now() - T0));
    void pacer.waitToSend(second!).then(() => sentAt.push(Date.now() - T0));
    await vi.advanceTimersByTimeAsync(3000);
    expect(sentAt).toEqual([300, 1325]);
    expect(pacer.stats().held).toBe(1);
  });

  it('refuses malformed limits and counts', () => {
    expect(() => new OutboundPacer({ max: 0, windowMs: 1000 })).toThrow(RangeError);
    expect(() => new OutboundPacer({ max: 1, windowMs: 0 })).toThrow(RangeError);
    expect(() => OutboundPacer.perSecond(0)).toThrow(RangeError);
    expect(() => new OutboundPacer({ max: 1, windowMs: 10 }).reserve(-1)).toThrow(RangeError);
  });

  it('reports refusals and 429s to its listener', () => {
    const events: string[] = [];
    const { pacer } = clocked({ max: 1, windowMs: 1000, maxWaitMs: 0, onEvent: (e) => events.push(e) });
    reserved(pacer, 1);
    pacer.reserve(1);
    pacer.pushBack(T0 + 1000);
    expect(events).toEqual(['refused', 'throttled']);
  });
});

describe('pacedActivity', () => {
  it('refuses at once, retryably, with the retry delay, without running the activity', async () => {
    const { pacer } = clocked({ max: 1, windowMs: 1000, maxWaitMs: 3000, name: 'auth0' });
    reserved(pacer, 3); // at 0, 1025, 2050
    const activity = vi.fn(() => Promise.resolve('done'));
    const paced = pacedActivity(pacer, () => 2, activity, { clientPaced: true });

    const failure = await paced(undefined).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(failure).toBeInstanceOf(ApplicationFailure);
    const f = failure as ApplicationFailure;
    expect(f.type).toBe(InviteErrorType.Transient);
    expect(f.nonRetryable).toBe(false);
    // Its two sends would go at 3075 and 4100 ms: retry after 4100 − 3000 / 2.
    expect(f.nextRetryDelay).toBe(2600);
    expect(f.message).toContain('auth0 paced locally');
    expect(activity).not.toHaveBeenCalled();
    expect(pacer.stats()).toMatchObject({ reserved: 3, refused: 1 });
  });

  it('keeps a refused attempt’s turn for the retry of the same activity, not for another one', async () => {
    const { clock, pacer } = clocked({ max: 1, windowMs: 1000, maxWaitMs: 3000, name: 'auth0' });
    reserved(pacer, 3); // at 0, 1025, 2050
    const ran: string[] = [];
    const paced = pacedActivity(
      pacer,
      () => 1,
      (name: string) => {
        ran.push(name);
        return Promise.resolve();
      },
      { clientPaced: false },
    );
    const inActivity = (activityId: string) =>
      new MockActivityEnvironment(
        { activityId, workflowExecution: { workflowId: 'invite-1', runId: 'run-1' } },
        // The refusals below are expected: the activity's failure log would only be noise.
        { logger: new DefaultLogger('ERROR') },
      );
    // Its send would go at 3075 ms: refused, the turn kept under the activity's id.
    await expect(inActivity('7').run(paced, 'grant')).rejects.toMatchObject({ nextRetryDelay: 1575 });
    // Another activity now queues behind it (4100 ms), beyond the wait too.
    await expect(inActivity('8').run(paced, 'other')).rejects.toMatchObject({ nextRetryDelay: 2600 });
    // The retry of the first, after its delay: runs at its kept time.
    clock.t = T0 + 3075;
    await inActivity('7').run(paced, 'grant');
    expect(ran).toEqual(['grant']);
    expect(pacer.stats()).toMatchObject({ reserved: 4, refused: 2 });
  });

  it('asks for at least a second', async () => {
    const { pacer } = clocked({ max: 1, windowMs: 100, maxWaitMs: 0 });
    reserved(pacer, 1);
    const paced = pacedActivity(
      pacer,
      () => 1,
      () => Promise.resolve(),
      { clientPaced: false },
    );
    await expect(paced(undefined)).rejects.toMatchObject({ nextRetryDelay: 1000 });
  });
});

describe('pacedFetch', () => {
  const ok = () => Promise.resolve(new Response('{}', { status: 200 }));

  it("sends each of an activity's requests at its reserved time and hands back the unused ones", async () => {
    vi.useFakeTimers({ now: T0 });
    const pacer = new OutboundPacer({ max: 1, windowMs: 1000 });
    const sentAt: number[] = [];
    const base = vi.fn((..._args: Parameters<typeof fetch>) => {
      sentAt.push(Date.now());
      return ok();
    });
    const paced = pacedFetch(base, pacer);
    // Declares three requests, makes two.
    const activity = pacedActivity(
      pacer,
      () => 3,
      async () => {
        await paced('https://api.example/a');
        await paced('https://api.example/b');
      },
      { clientPaced: true },
    );

    const done = activity(undefined);
    await vi.advanceTimersByTimeAsync(1025);
    await done;

    expect(sentAt.map((t) => t - T0)).toEqual([0, 1025]);
    expect(pacer.stats()).toEqual({ reserved: 3, released: 1, refused: 0, throttled: 0, held: 0 });
    // The unused third time (2050) went back: the next request, outside any activity, takes it
    // rather than the one after (3075).
    const outside = paced('https://api.example/c');
    await vi.advanceTimersByTimeAsync(5000);
    await outside;
    expect(sentAt.map((t) => t - T0)).toEqual([0, 1025, 2050]);
  });

  it('leaves requests outside its `paces` alone', async () => {
    const pacer = new OutboundPacer({ max: 1, windowMs: 60_000 });
    const base = vi.fn(ok);
    const paced = pacedFetch(base, pacer, { paces: (url) => url.pathname.startsWith('/api/v2/') });
    await paced('https://tenant.auth0.com/oauth/token', { method: 'POST' });
    await paced('https://tenant.auth0.com/oauth/token', { method: 'POST' });
    expect(base).toHaveBeenCalledTimes(2);
    expect(pacer.stats().reserved).toBe(0);
  });

  it('answers a call with no room like the service would, a 429 with Retry-After, sending nothing', async () => {
    const pacer = new OutboundPacer({ max: 1, windowMs: 60_000, maxWaitMs: 10_000 });
    const base = vi.fn(ok);
    const paced = pacedFetch(base, pacer);
    await paced('https://api.example/a');

    const refused = await paced('https://api.example/b');

    expect(refused.status).toBe(429);
    // Its turn is ~60 s away: retry when it is within half the wait, ~55 s.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(56);
    expect(base).toHaveBeenCalledTimes(1);
    expect(pacer.stats()).toMatchObject({ reserved: 1, refused: 1 });
  });

  it("holds back after a service's 429 until its x-ratelimit-reset", async () => {
    const clock = { t: T0 };
    const pacer = new OutboundPacer({ max: 2, windowMs: 1000, now: () => clock.t });
    const reset = Math.floor(T0 / 1000) + 3;
    const paced = pacedFetch(
      () =>
        Promise.resolve(
          new Response('{}', {
            status: 429,
            headers: { 'x-ratelimit-reset': String(reset), 'x-ratelimit-remaining': '0' },
          }),
        ),
      pacer,
    );

    expect((await paced('https://api.example/a')).status).toBe(429);

    expect(pacer.stats().throttled).toBe(1);
    expect(reserved(pacer, 1)[0]).toBe(reset * 1000);
  });
});
