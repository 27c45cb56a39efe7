/**
 * Client-side pacing of a third party's rate limit, so the worker stays under it instead of
 * discovering it through 429s. Reacting to 429s alone livelocks under load: at Auth0's free-tier
 * 2 requests per second, a hundred grants retrying on their own schedules kept the bucket empty
 * and finished a third of the work in 18 minutes (bench/README.md, "Finding 2").
 *
 * A sliding-log pacer hands out send times so that no window of `windowMs` holds more than
 * `max` requests (Auth0's token bucket of 2 at 2/s is served by 2 per second; HubSpot's rolling
 * 100 per 10 s by exactly that). An activity reserves every request it will make before making
 * the first, so a throttled second call never wastes the first (an Auth0 grant reads before it
 * writes). An activity whose turn is further away than `maxWaitMs` is not queued, since the wait
 * would count against its start-to-close timeout: it is refused at once, locally, with the wait
 * as its retry delay, which Temporal honours. Sends that an activity reserved but did not make
 * (a write skipped because nothing changed) are handed back when it ends. A request can only go
 * out later than its reserved time (its activity's previous call answered slowly, the client
 * fetched a token first), which shifts its window: so each send is also checked against the
 * actual times of the last `max` sends, and waits for the window to clear if need be.
 *
 * The pacer is per process. Several workers sharing one limit each need their share of it
 * (see docs/production.md); a 429 that gets through anyway still becomes a retry after the
 * service's delay (`activities/failures.ts`) and holds this process's sends back until then.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../workflows/errors';

/**
 * How long an activity may wait for its turn by default: a third of the activities' 30 s
 * start-to-close timeout (`workflows/invite/effects.ts`), leaving the rest to the requests themselves.
 */
export const DEFAULT_MAX_WAIT_MS = 10_000;

/** Margin after a window before the next send: the service starts its window when the request lands. */
export const DEFAULT_MARGIN_MS = 25;

/** What a pacer reports to `onEvent`, e.g. for metrics. */
export type PacingEvent = 'refused' | 'throttled';

/** Options of `OutboundPacer`. */
export interface OutboundPacerOptions {
  /** Most requests in any window of `windowMs`. */
  max: number;
  windowMs: number;
  /** Names the service in refusals and metrics, e.g. `auth0`. */
  name?: string;
  /** Longest wait for a turn before a call is refused instead; default `DEFAULT_MAX_WAIT_MS`. */
  maxWaitMs?: number;
  /** Default `DEFAULT_MARGIN_MS`. */
  marginMs?: number;
  /** Clock in ms; injected by tests. */
  now?: () => number;
  /** Called on each local refusal and each 429 that got through. */
  onEvent?: (event: PacingEvent) => void;
}

/** Counters of one pacer since it was made. */
export interface OutboundPacerStats {
  /** Send times handed out (requests), including ones later released. */
  reserved: number;
  /** Reserved send times handed back unused; `reserved - released` were (or are about to be) sent. */
  released: number;
  /** Calls refused locally because their turn was beyond `maxWaitMs` (each an activity retry, no request). */
  refused: number;
  /** 429s the service answered anyway (another process shares the limit). */
  throttled: number;
  /** Sends held past their reserved time because earlier ones went out late. */
  held: number;
}

/** The answer of `reserve`: every send time, or the wait that was too long. */
export type Reservation = { ok: true; at: number[] } | { ok: false; waitMs: number };

// On the global timers, not node:timers/promises: the tests drive the pacer with fake timers.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Send times for one rate limit, shared by everything the process sends to that service. */
export class OutboundPacer {
  readonly max: number;
  readonly windowMs: number;
  readonly name: string;
  readonly maxWaitMs: number;
  readonly now: () => number;
  private readonly marginMs: number;
  private readonly onEvent: ((event: PacingEvent) => void) | undefined;
  // Sorted send times; only the last `max` and those inside the window matter.
  private readonly times: number[] = [];
  // Actual send times of the last `max` requests, in the order they went out.
  private readonly sent: number[] = [];
  private readonly counts: OutboundPacerStats = { reserved: 0, released: 0, refused: 0, throttled: 0, held: 0 };
  // Send times kept for a refused caller (by key) until its retry comes for them.
  private readonly tickets = new Map<string, { at: number[]; expires: number }>();

  constructor(opts: OutboundPacerOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new RangeError('max must be a positive integer');
    if (!(opts.windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.max = opts.max;
    this.windowMs = opts.windowMs;
    this.name = opts.name ?? 'service';
    this.maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.marginMs = opts.marginMs ?? DEFAULT_MARGIN_MS;
    this.now = opts.now ?? Date.now;
    this.onEvent = opts.onEvent;
  }

  /**
   * A pacer for a token bucket of `burst` refilled at `perSecond` (Auth0's model): `burst`
   * requests per `burst / perSecond` seconds, which never overdraws that bucket. `burst` defaults
   * to `max(1, floor(perSecond))`.
   */
  static perSecond(
    perSecond: number,
    burst?: number,
    opts: Omit<OutboundPacerOptions, 'max' | 'windowMs'> = {},
  ): OutboundPacer {
    if (!(perSecond > 0)) throw new RangeError('perSecond must be positive');
    const max = burst ?? Math.max(1, Math.floor(perSecond));
    // Whole milliseconds, rounded up: timers and clocks count in them.
    return new OutboundPacer({ ...opts, max, windowMs: Math.ceil((max / perSecond) * 1000) });
  }

  /**
   * Reserves send times for `count` requests, all or none: refused when the last of them would be
   * more than `maxWaitMs` away. Without a `ticket`, a refusal keeps nothing. With one (a key that
   * names the caller across its retries, such as an activity's id), a refusal keeps the send times
   * for the caller's next attempt under the same key: it waits its turn in line instead of competing
   * afresh with every later caller on each retry, so it is refused once rather than again and again.
   * A ticket not claimed within `maxWaitMs` after its last send time lapses.
   */
  reserve(count: number, ticket?: string): Reservation {
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer');
    const now = this.now();
    while (this.times.length > this.max && this.times[0]! <= now - this.windowMs) this.times.shift();
    for (const [key, held] of this.tickets) if (held.expires < now) this.tickets.delete(key);
    const held = ticket === undefined ? undefined : this.tickets.get(ticket);
    if (held) {
      this.tickets.delete(ticket!);
      if (held.at.length === count) {
        const waitMs = held.at.at(-1)! - now;
        if (waitMs > this.maxWaitMs) {
          // Back before its turn (a retry timer fired early): still in line.
          this.tickets.set(ticket!, held);
          return this.refused(waitMs);
        }
        this.counts.reserved += count;
        return { ok: true, at: held.at };
      }
      // Asks for a different number of requests now: the held times go back, the call queues anew.
      this.release(held.at);
    }
    const at: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.times.length;
      // The request `max` places earlier must have left the window before this one goes.
      const t =
        n >= this.max ? Math.max(now, this.times[n - this.max]! + this.windowMs + this.marginMs) : now;
      at.push(t);
      this.times.push(t);
    }
    const waitMs = (at.at(-1) ?? now) - now;
    if (waitMs > this.maxWaitMs) {
      if (ticket === undefined) this.times.length -= count;
      else this.tickets.set(ticket, { at, expires: at.at(-1)! + this.maxWaitMs });
      return this.refused(waitMs);
    }
    this.counts.reserved += count;
    return { ok: true, at };
  }

  private refused(waitMs: number): Reservation {
    this.counts.refused++;
    this.onEvent?.('refused');
    return { ok: false, waitMs };
  }

  /** Hands back reserved send times that were not used, so others may have them. */
  release(at: readonly number[]): void {
    for (const t of at) {
      const i = this.times.lastIndexOf(t);
      if (i < 0) continue;
      this.times.splice(i, 1);
      this.counts.released++;
    }
  }

  /**
   * After a real 429 (another process spends the same limit): no new send time before `until`.
   * Times already handed out stay; their requests may meet a 429 too, which `failures.ts` handles.
   */
  pushBack(until: number): void {
    for (let i = 0; i < this.max; i++) this.times.push(until - this.windowMs - this.marginMs);
    this.times.sort((a, b) => a - b);
    this.counts.throttled++;
    this.onEvent?.('throttled');
  }

  /**
   * Records a request going out now and answers 0, or answers how long it must wait first: the
   * last `max` requests actually sent (whatever their reserved times) must leave the window.
   */
  admit(): number {
    const now = this.now();
    const oldest = this.sent.length >= this.max ? this.sent[this.sent.length - this.max]! : undefined;
    const wait = oldest === undefined ? 0 : oldest + this.windowMs + this.marginMs - now;
    if (wait > 0) return wait;
    this.sent.push(now);
    if (this.sent.length > this.max) this.sent.shift();
    return 0;
  }

  /** Waits until `at`, then until the requests actually sent leave room (`admit`); records the send. */
  async waitToSend(at: number): Promise<void> {
    const until = at - this.now();
    if (until > 0) await sleep(until);
    let wait = this.admit();
    if (wait > 0) this.counts.held++;
    for (; wait > 0; wait = this.admit()) await sleep(wait);
  }

  /** Counters since the pacer was made. */
  stats(): OutboundPacerStats {
    return { ...this.counts };
  }

  /** The retry delay for a call refused with `waitMs`: its turn is then within half `maxWaitMs`. */
  retryDelayFor(waitMs: number): number {
    return Math.max(1000, Math.ceil(waitMs - this.maxWaitMs / 2));
  }
}

/** The send times one activity attempt reserved, taken in order by its client's paced `fetch`. */
class Turns {
  private used = 0;
  constructor(
    readonly pacer: OutboundPacer,
    private readonly at: number[],
  ) {}

  take(): number | undefined {
    return this.used < this.at.length ? this.at[this.used++] : undefined;
  }

  unused(): number[] {
    return this.at.slice(this.used);
  }
}

const current = new AsyncLocalStorage<Turns>();

function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

/** Options of `pacedFetch`. */
export interface PacedFetchOptions {
  /** Which requests count against the limit; default all (Auth0's token endpoint has its own). */
  paces?: (url: URL) => boolean;
}

/**
 * A `fetch` that sends at the send times its activity reserved (`pacedActivity` with
 * `clientPaced`), or reserves one itself (outside an activity, or past what it declared). A call
 * refused then is answered like the service would, a 429 with `Retry-After`, so the SDK and
 * `activities/failures.ts` make it the usual retry decision. A real 429 pushes the pacer back.
 */
export function pacedFetch(
  base: typeof fetch,
  pacer: OutboundPacer,
  opts: PacedFetchOptions = {},
): typeof fetch {
  return async (input, init) => {
    if (opts.paces && !opts.paces(new URL(urlOf(input)))) return base(input, init);
    const turns = current.getStore();
    let at = turns?.pacer === pacer ? turns.take() : undefined;
    if (at === undefined) {
      const turn = pacer.reserve(1);
      if (!turn.ok) return localRefusal(pacer, turn.waitMs);
      at = turn.at[0]!;
    }
    await pacer.waitToSend(at);
    const response = await base(input, init);
    if (response.status === 429) pacer.pushBack(throttledUntil(response.headers, pacer));
    return response;
  };
}

// Retry-After (seconds), else Auth0's x-ratelimit-reset (unix seconds), else one window.
function throttledUntil(headers: Headers, pacer: OutboundPacer): number {
  const now = pacer.now();
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter && /^\d+$/.test(retryAfter)) return now + Number(retryAfter) * 1000;
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) return Math.max(now, Number(reset) * 1000);
  return now + pacer.windowMs;
}

function localRefusal(pacer: OutboundPacer, waitMs: number): Response {
  const body = {
    statusCode: 429,
    error: 'Too Many Requests',
    message: `paced locally: the ${pacer.name} rate limit has no room for this call within ${pacer.maxWaitMs} ms`,
    errorCode: 'too_many_requests',
  };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: {
      'content-type': 'application/json',
      'retry-after': String(Math.ceil(pacer.retryDelayFor(waitMs) / 1000)),
    },
  });
}

/** Options of `pacedActivity`. */
export interface PacedActivityOptions {
  /**
   * `true`: the activity's client was built with `pacedFetch` on the same pacer and sends each
   * request at its reserved time. `false`: the activity starts at its first reserved time; only
   * for activities that make one request.
   */
  clientPaced: boolean;
}

/**
 * The running activity execution, the same across its retries, or undefined outside an activity.
 * A refused attempt's send times are kept under it for the retry (see `OutboundPacer.reserve`).
 */
function activityTicket(): string | undefined {
  let info;
  try {
    info = Context.current().info;
  } catch {
    return undefined;
  }
  const run = info.workflowExecution;
  return run ? `${run.workflowId}/${run.runId}/${info.activityId}` : info.activityId;
}

/**
 * Wraps an activity that makes at most `cost(input)` requests: it reserves them all, then runs,
 * or fails at once, retryably, with a next retry delay that brings its turn within reach; that
 * turn is kept for the retry.
 */
export function pacedActivity<I, R>(
  pacer: OutboundPacer,
  cost: (input: I) => number,
  fn: (input: I) => Promise<R>,
  opts: PacedActivityOptions,
): (input: I) => Promise<R> {
  return async (input) => {
    const turn = pacer.reserve(cost(input), activityTicket());
    if (!turn.ok) {
      const retryAfterMs = pacer.retryDelayFor(turn.waitMs);
      throw ApplicationFailure.create({
        type: InviteErrorType.Transient,
        message: `${pacer.name} paced locally: the rate limit has no room for this call within ${pacer.maxWaitMs} ms`,
        nonRetryable: false,
        details: [{ service: pacer.name, pacedLocally: true, retryAfterMs }],
        nextRetryDelay: retryAfterMs,
      });
    }
    if (!opts.clientPaced) {
      if (turn.at[0] !== undefined) await pacer.waitToSend(turn.at[0]);
      return fn(input);
    }
    const turns = new Turns(pacer, turn.at);
    try {
      return await current.run(turns, () => fn(input));
    } finally {
      pacer.release(turns.unused());
    }
  };
}
