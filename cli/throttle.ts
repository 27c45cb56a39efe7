/** Pacing of a bulk import, so a large file does not flood Temporal or the mail server. */
import { setTimeout as sleep } from 'node:timers/promises';

const UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hour: 3600,
};

/** Starts per second of a rate such as `5/s`, `120/min` or `1000/h`; undefined when malformed. */
export function parseRate(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([a-z]+))?\s*$/i.exec(text);
  if (!match) return undefined;
  const count = Number(match[1]);
  const seconds = UNITS[(match[2] ?? 's').toLowerCase()];
  if (seconds === undefined || !(count > 0)) return undefined;
  return count / seconds;
}

/**
 * A throttle: each call resolves no sooner than `1 / perSecond` after the previous one was let
 * through. Time spent working between calls counts, so a slow start is not slowed further.
 * Rejects with the signal's reason when aborted while waiting.
 */
export function createThrottle(perSecond: number, signal?: AbortSignal): () => Promise<void> {
  const intervalMs = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = Date.now();
    const wait = next - now;
    next = Math.max(now, next) + intervalMs;
    // Rejects with the abort's reason, like every other wait of the CLI.
    if (wait > 0) await sleep(wait, undefined, { signal }).catch((err: Error) => Promise.reject(signal?.aborted ? (signal.reason as Error) : err));
  };
}
