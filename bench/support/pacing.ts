/**
 * Client-side pacing for the throttling benchmark's `--mode paced`: what the worker would do to
 * stay under a third party's rate limit instead of discovering it through 429s. It runs inside
 * the benchmark's worker process, wrapped around the product's own clients and activities, to
 * measure the idea before anyone changes `lib/` or `activities/`.
 *
 * A sliding-log limiter hands out send times so that no window of `windowMs` holds more than
 * `max` requests (Auth0's token bucket of 2 at 2/s is served by 2 per second; HubSpot's rolling
 * 100 per 10 s by exactly that). An activity reserves every request it will make before making
 * the first, so a throttled second call never wastes the first (an Auth0 grant reads before it
 * writes). An activity whose turn is further away than `maxWaitMs` is not queued, since the wait
 * would count against its start-to-close timeout: it is refused at once, locally, with the wait
 * as its retry delay, which Temporal honours.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../../workflows/errors';

/** Send times for one rate limit, shared by everything the process sends to that service. */
export class SlidingLogLimiter {
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    readonly maxWaitMs: number,
  ) {}

  /** Send times for `count` requests, reserved; or, when the last is too far away, the wait. */
  reserve(count: number, now = Date.now()): { at: number[] } | { refusedForMs: number } {
    while (this.times.length > this.max && this.times[0]! <= now - this.windowMs) this.times.shift();
    const at: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.times.length;
      // A few milliseconds of margin: the service's clock starts its window when the request lands.
      at.push(n >= this.max ? Math.max(now, this.times[n - this.max]! + this.windowMs + 25) : now);
      this.times.push(at[i]!);
    }
    const last = at.at(-1) ?? now;
    if (last - now > this.maxWaitMs) {
      this.times.length -= count;
      return { refusedForMs: last - now };
    }
    return { at };
  }

  /** After a real 429 (another process shares the limit): nothing more goes out before `until`. */
  pushBack(until: number): void {
    for (let i = 0; i < this.max; i++) this.times.push(until - this.windowMs);
    this.times.sort((a, b) => a - b);
  }
}

/** Calls refused locally so far (each one an activity retry, no request to the service). */
export const refusals = { count: 0 };

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

// The send times an activity reserved, for the paced `fetch` its SDK calls to take in order.
const reserved = new AsyncLocalStorage<number[]>();

/**
 * A `fetch` that sends at the activity's reserved times (or reserves one itself outside an
 * activity). A refusal is answered like the service would, a 429 with `Retry-After`, so the SDK
 * and `activities/failures.ts` turn it into the usual retry decision.
 */
export function pacedFetch(base: typeof fetch, limiter: SlidingLogLimiter): typeof fetch {
  return async (input, init) => {
    let at = reserved.getStore()?.shift();
    if (at === undefined) {
      const turn = limiter.reserve(1);
      if ('refusedForMs' in turn) {
        refusals.count++;
        return localRefusal(turn.refusedForMs);
      }
      at = turn.at[0]!;
    }
    await sleep(at - Date.now());
    const response = await base(input, init);
    if (response.status === 429) {
      const reset = Number(response.headers.get('x-ratelimit-reset'));
      limiter.pushBack(Number.isFinite(reset) && reset > 0 ? reset * 1000 : Date.now() + 1000);
    }
    return response;
  };
}

function localRefusal(waitMs: number): Response {
  const body = {
    statusCode: 429,
    error: 'Too Many Requests',
    message: 'Paced locally',
    errorCode: 'too_many_requests',
  };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: { 'content-type': 'application/json', 'retry-after': String(Math.ceil(waitMs / 1000)) },
  });
}

/**
 * Wraps an activity that makes `cost(input)` requests: it reserves them all, then runs, or fails
 * retryably with the wait. `clientPaced`: the activity's client takes its times from the
 * reservation (`pacedFetch`); otherwise the activity starts at the first reserved time.
 */
export function pacedActivity<I, R>(
  limiter: SlidingLogLimiter,
  cost: (input: I) => number,
  fn: (input: I) => Promise<R>,
  clientPaced: boolean,
): (input: I) => Promise<R> {
  return async (input) => {
    const turn = limiter.reserve(cost(input));
    if ('refusedForMs' in turn) {
      refusals.count++;
      throw ApplicationFailure.create({
        type: InviteErrorType.Transient,
        message: 'paced locally: the rate limit has no room for this call before the retry',
        nonRetryable: false,
        nextRetryDelay: Math.max(1000, Math.ceil(turn.refusedForMs - limiter.maxWaitMs / 2)),
      });
    }
    if (!clientPaced) {
      await sleep((turn.at[0] ?? 0) - Date.now());
      return fn(input);
    }
    return reserved.run(turn.at, () => fn(input));
  };
}
