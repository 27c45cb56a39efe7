/**
 * Start-up against a Temporal service that may not be up yet (a cluster still starting, a
 * restart, a network partition): the API and the worker wait for it with a capped exponential
 * backoff, logging one line per failed attempt, instead of exiting into an orchestrator's crash
 * loop. Only "could not reach it" is retried; anything else (bad TLS files, a refused API key)
 * fails the start at once with its own message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isUnavailable } from './grpc-errors';

/** Backoff of the start-up connection: first wait, cap, and growth factor. */
export interface ConnectBackoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Defaults of `ConnectBackoff`: 0.5 s, 1 s, 2 s, … up to 15 s between attempts. */
export const DEFAULT_CONNECT_BACKOFF: ConnectBackoff = { initialMs: 500, maxMs: 15_000, factor: 2 };

/** What a failed attempt reports; no secret is part of it (the address and the transport's words). */
export interface UnreachableReport {
  address: string;
  attempt: number;
  retryInMs: number;
  reason: string;
}

/**
 * True when `err` says the Temporal service could not be reached: the native connection's
 * transport error, the client's connect deadline, or an unavailable/overloaded answer.
 */
export function isUnreachable(err: unknown): boolean {
  if (isUnavailable(err)) return true;
  if (!(err instanceof Error)) return false;
  return err.name === 'TransportError' || err.message.startsWith('Failed to connect before the deadline');
}

/**
 * Calls `connect` until it succeeds, waiting between attempts per `backoff`; `report` is called
 * once per failed attempt that will be retried. Errors other than "unreachable" are thrown.
 */
export async function connectWithRetry<T>(
  connect: () => Promise<T>,
  opts: { address: string; report: (r: UnreachableReport) => void; backoff?: Partial<ConnectBackoff>; signal?: AbortSignal },
): Promise<T> {
  const backoff = { ...DEFAULT_CONNECT_BACKOFF, ...opts.backoff };
  let delay = backoff.initialMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (!isUnreachable(err) || opts.signal?.aborted) throw err;
      opts.report({ address: opts.address, attempt, retryInMs: delay, reason: reasonOf(err) });
      await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : undefined);
      delay = Math.min(backoff.maxMs, Math.round(delay * backoff.factor));
    }
  }
}

// The transport's own words are long Rust debug strings; the kind of failure is what helps.
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const refused = /Connection refused|ConnectionRefused/i.test(message);
  if (refused) return 'connection refused';
  if (/deadline/i.test(message)) return 'no answer before the deadline';
  return message.replace(/\s+/g, ' ').slice(0, 160);
}
