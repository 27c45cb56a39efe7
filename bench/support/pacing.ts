/**
 * Client-side pacing for the throttling benchmark's `--mode paced`: what the worker would do to
 * stay under a third party's rate limit instead of discovering it through 429s. It runs inside
 * the benchmark's worker process, wrapped around the product's own clients and activities, to
 * measure the idea before anyone changes `lib/` or `activities/`.
 *
 * A sliding-log limiter hands out send times so that no window of `windowMs` holds more than
 * `max` requests (Auth0's token bucket of 2 at 2/s is served by 2 per second; HubSpot's rolling
 * 100 per 10 s by exactly that). A request whose turn is further away than `maxWaitMs` is not
 * queued, since the wait would count against the activity's start-to-close timeout: it is
 * refused at once, locally, with the wait as its retry delay, which Temporal honours.
 */
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../../workflows/errors';

/** Send times for one rate limit, shared by everything the process sends to that service. */
export class SlidingLogLimiter {
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxWaitMs: number,
  ) {}

  /** The time this request may be sent, reserved; or the wait, unreserved, when it is too far away. */
  reserve(now = Date.now()): { at: number } | { refusedForMs: number } {
    while (this.times.length > this.max && this.times[0]! <= now - this.windowMs) this.times.shift();
    const n = this.times.length;
    // A few milliseconds of margin: the service's clock starts its window when the request lands.
    const at = n >= this.max ? Math.max(now, this.times[n - this.max]! + this.windowMs + 25) : now;
    if (at - now > this.maxWaitMs) return { refusedForMs: at - now };
    this.times.push(at);
    return { at };
  }

  /** After a real 429 (another process shares the limit): nothing more goes out before `until`. */
  pushBack(until: number): void {
    for (let i = 0; i < this.max; i++) this.times.push(until - this.windowMs);
    this.times.sort((a, b) => a - b);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A `fetch` that waits for its turn. A refusal is answered like the service would, a 429 with
 * `Retry-After`, so the SDK and `activities/failures.ts` turn it into the usual retry decision.
 */
export function pacedFetch(base: typeof fetch, limiter: SlidingLogLimiter): typeof fetch {
  return async (input, init) => {
    const turn = limiter.reserve();
    if ('refusedForMs' in turn) {
      return new Response(
        JSON.stringify({
          statusCode: 429,
          error: 'Too Many Requests',
          message: 'Paced locally',
          errorCode: 'too_many_requests',
        }),
        {
          status: 429,
          headers: {
            'content-type': 'application/json',
            'retry-after': String(Math.ceil(turn.refusedForMs / 1000)),
          },
        },
      );
    }
    const wait = turn.at - Date.now();
    if (wait > 0) await sleep(wait);
    const response = await base(input, init);
    if (response.status === 429) {
      const reset = Number(response.headers.get('x-ratelimit-reset'));
      limiter.pushBack(Number.isFinite(reset) && reset > 0 ? reset * 1000 : Date.now() + 1000);
    }
    return response;
  };
}

/** Wraps an activity that makes one request: it waits for its turn or fails retryably with the wait. */
export function pacedActivity<A extends unknown[], R>(
  limiter: SlidingLogLimiter,
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    const turn = limiter.reserve();
    if ('refusedForMs' in turn) {
      throw ApplicationFailure.create({
        type: InviteErrorType.Transient,
        message: 'paced locally: the rate limit has no room before the retry',
        nonRetryable: false,
        nextRetryDelay: Math.max(1000, Math.ceil(turn.refusedForMs)),
      });
    }
    const wait = turn.at - Date.now();
    if (wait > 0) await sleep(wait);
    return fn(...args);
  };
}
