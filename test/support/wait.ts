/**
 * How long a test waits (`vi.waitFor`, `expect.poll`) for what a server, a worker or another
 * process does in its own time: long enough for a loaded two-core machine, and never a timing
 * assertion (the wait ends as soon as the condition holds).
 */
export const WAIT = { timeout: 20_000, interval: 50 } as const;
