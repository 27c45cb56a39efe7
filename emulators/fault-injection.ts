// Fault injection, latency and request counting shared by the local service emulators. A test or
// a developer switches faults on through `/__emulator/faults` (or the in-process methods) to see
// how our code behaves when the real service throttles, breaks or slows down.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/** Makes matching requests answer `status` instead of reaching the route. */
export interface FaultRule {
  /** Substring of `METHOD /route/:pattern` or `METHOD /actual/path`; absent = every route. */
  route?: string;
  status: number;
  /** Only the next N matching requests; absent (and no probability) = until cleared. */
  count?: number;
  /** Chance (0..1) that a matching request fails; combines with `count` as a cap. */
  probability?: number;
  /** Sent as `Retry-After` and used for the service's own rate-limit headers. */
  retryAfterSeconds?: number;
}

/** Delays matching requests before they are handled. */
export interface LatencyRule {
  route?: string;
  latencyMs: number;
  count?: number;
  probability?: number;
}

/** Either kind of rule, as accepted by `POST /__emulator/faults`. */
export type FaultInput = FaultRule | LatencyRule;

const faultSchema = z.strictObject({
  route: z.string().min(1).optional(),
  status: z.number().int().min(400).max(599),
  count: z.number().int().positive().optional(),
  probability: z.number().min(0).max(1).optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});

const latencySchema = z.strictObject({
  route: z.string().min(1).optional(),
  latencyMs: z.number().int().nonnegative().max(120_000),
  count: z.number().int().positive().optional(),
  probability: z.number().min(0).max(1).optional(),
});

/** Validates a control-route body; throws a readable Error when it is neither kind of rule. */
export function parseFaultInput(body: unknown): FaultInput {
  const asFault = faultSchema.safeParse(body);
  if (asFault.success) return asFault.data;
  const asLatency = latencySchema.safeParse(body);
  if (asLatency.success) return asLatency.data;
  throw new Error(`invalid fault rule: ${z.prettifyError(asFault.error)}`);
}

interface Armed<T> {
  rule: T;
  remaining: number;
}

function matches(rule: { route?: string }, routeKey: string, actual: string): boolean {
  return rule.route === undefined || routeKey.includes(rule.route) || actual.includes(rule.route);
}

// A rule with `count` is consumed only when it fires, so `probability` + `count` means "at most
// N failures, each with that chance".
function fire<T extends { probability?: number }>(
  armed: Armed<T>[],
  index: number,
  random: () => number,
): T | undefined {
  const entry = armed[index];
  if (!entry) return undefined;
  if (entry.rule.probability !== undefined && random() >= entry.rule.probability) return undefined;
  entry.remaining -= 1;
  if (entry.remaining <= 0) armed.splice(index, 1);
  return entry.rule;
}

/** Holds the armed faults and latency rules of one emulator. */
export class FaultInjector {
  private faults: Armed<FaultRule>[] = [];
  private latencies: Armed<LatencyRule>[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** Arms a rule; it applies to requests that arrive after this call. */
  add(input: FaultInput): void {
    const remaining = input.count ?? Number.POSITIVE_INFINITY;
    if ('status' in input) this.faults.push({ rule: input, remaining });
    else this.latencies.push({ rule: input, remaining });
  }

  /** Disarms every rule. */
  clear(): void {
    this.faults = [];
    this.latencies = [];
  }

  /** Rules still armed, for the state route. */
  list(): { faults: FaultRule[]; latencies: LatencyRule[] } {
    return { faults: this.faults.map((f) => f.rule), latencies: this.latencies.map((l) => l.rule) };
  }

  /** Decides what happens to one request: how long to wait and whether to fail it. */
  take(routeKey: string, actual: string): { latencyMs: number; fault: FaultRule | undefined } {
    let latencyMs = 0;
    const latencyIndex = this.latencies.findIndex((l) => matches(l.rule, routeKey, actual));
    if (latencyIndex >= 0) latencyMs = fire(this.latencies, latencyIndex, this.random)?.latencyMs ?? 0;
    const faultIndex = this.faults.findIndex((f) => matches(f.rule, routeKey, actual));
    const fault = faultIndex >= 0 ? fire(this.faults, faultIndex, this.random) : undefined;
    return { latencyMs, fault };
  }
}

/** Counts requests per route key (`METHOD /route/:pattern`). */
export class RequestCounter {
  private readonly map = new Map<string, number>();

  /** Adds one request to a route's count. */
  increment(routeKey: string): void {
    this.map.set(routeKey, (this.map.get(routeKey) ?? 0) + 1);
  }

  /** The counts so far, as a plain object. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.map);
  }

  /** Forgets every count. */
  reset(): void {
    this.map.clear();
  }
}

/** `METHOD /route/:pattern` for a request; the raw path when no route matched. */
export function routeKeyOf(request: FastifyRequest): string {
  const pattern = request.routeOptions.url ?? request.url.split('?')[0] ?? request.url;
  return `${request.method} ${pattern}`;
}

/** Paths of the control routes; they are never counted, delayed or failed. */
export const CONTROL_PREFIX = '/__emulator/';

/** Wires counting, latency and faults into an emulator as its first `onRequest` hook. */
export function installFaultHook(
  app: FastifyInstance,
  opts: {
    faults: FaultInjector;
    counter: RequestCounter;
    /** Answers a fired fault in the emulated service's own error format. */
    respond: (request: FastifyRequest, reply: FastifyReply, fault: FaultRule) => FastifyReply;
  },
): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(CONTROL_PREFIX)) return;
    const routeKey = routeKeyOf(request);
    opts.counter.increment(routeKey);
    const actual = `${request.method} ${request.url.split('?')[0] ?? ''}`;
    const { latencyMs, fault } = opts.faults.take(routeKey, actual);
    if (latencyMs > 0) await sleep(latencyMs);
    if (fault) return opts.respond(request, reply, fault);
  });
}

/** Registers `GET /__emulator/state`, `POST|DELETE /__emulator/faults` and `POST /__emulator/reset`. */
export function registerControlRoutes(
  app: FastifyInstance,
  opts: { faults: FaultInjector; state: () => unknown; reset: () => void },
): void {
  app.get(`${CONTROL_PREFIX}state`, () => opts.state());
  app.post(`${CONTROL_PREFIX}faults`, async (request, reply) => {
    const body: unknown = request.body;
    const rules = Array.isArray(body) ? body : [body];
    try {
      const parsed = rules.map(parseFaultInput);
      parsed.forEach((rule) => opts.faults.add(rule));
      return { armed: parsed };
    } catch (e) {
      return reply.code(400).send({ error: e instanceof Error ? e.message : 'invalid fault rule' });
    }
  });
  app.delete(`${CONTROL_PREFIX}faults`, async (_request, reply) => {
    opts.faults.clear();
    return reply.code(204).send();
  });
  app.post(`${CONTROL_PREFIX}reset`, async (_request, reply) => {
    opts.reset();
    return reply.code(204).send();
  });
}
