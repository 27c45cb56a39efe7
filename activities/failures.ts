/**
 * Turns errors from the Auth0 and HubSpot SDKs (and the network under them) into the
 * `ApplicationFailure`s Temporal acts on. The SDKs do not retry (see `lib/`), so this is where a
 * throttled or failing call becomes "retry, and wait as long as the service asked" and a refused
 * one becomes "stop". Messages carry the service's own words but never a token or secret.
 */
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../workflows/errors';

/** The third parties whose errors this module understands. */
export type Service = 'auth0' | 'hubspot';

/** Shortest wait we ask Temporal for; services that say "0" still deserve a breath. */
export const MIN_RETRY_DELAY_MS = 1_000;
/** Longest wait we ask Temporal for; a daily quota then gets probed every ten minutes. */
export const MAX_RETRY_DELAY_MS = 600_000;

/** Response headers as the SDKs expose them: a fetch `Headers` (auth0) or a plain object (HubSpot). */
export type HeaderSource = { get(name: string): string | null } | Record<string, unknown> | null | undefined;

/** What a failed call tells us, without anything secret. */
export interface FailureDetails {
  service: Service;
  /** HTTP status; absent for network errors and timeouts. */
  status?: number;
  /** The service's error code (`errorCode` for Auth0, `category` or `errorType` for HubSpot). */
  code?: string;
  /** HubSpot's correlation id, to quote to their support. */
  correlationId?: string;
  /** What the service asked us to wait, in ms. */
  retryAfterMs?: number;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === 'function')
    return (headers.get as (n: string) => string | null)(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== lower) continue;
    const first: unknown = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' || typeof first === 'number' ? String(first) : undefined;
  }
  return undefined;
}

/** Keeps a delay within [MIN_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS]. */
export function clampRetryDelay(ms: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, Math.max(MIN_RETRY_DELAY_MS, Math.ceil(ms)));
}

function parseRetryAfter(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date - now;
}

/**
 * How long the service asked us to wait before trying again, in ms and clamped, or undefined when
 * it said nothing. Reads, in order: `Retry-After` (seconds or HTTP date); Auth0's
 * `x-ratelimit-reset` (unix seconds) when the limit is exhausted; HubSpot's window
 * (`X-HubSpot-RateLimit-Interval-Milliseconds`) for the TEN_SECONDLY_ROLLING policy, and one
 * second for the SECONDLY (search) policy.
 */
export function retryDelayFromHeaders(
  headers: HeaderSource,
  opts: { now?: number; policyName?: string } = {},
): number | undefined {
  const now = opts.now ?? Date.now();
  const retryAfter = header(headers, 'retry-after');
  const fromRetryAfter = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, now);
  if (fromRetryAfter !== undefined) return clampRetryDelay(fromRetryAfter);

  // A reset time only explains the failure when no requests remain; on a 5xx with requests left
  // it is just the bucket's refill time.
  const reset = header(headers, 'x-ratelimit-reset');
  const remaining = header(headers, 'x-ratelimit-remaining');
  if (
    reset !== undefined &&
    /^\d+$/.test(reset.trim()) &&
    (remaining === undefined || Number(remaining) <= 0)
  ) {
    return clampRetryDelay(Number(reset) * 1000 - now);
  }

  const policy = opts.policyName?.toUpperCase();
  const interval = header(headers, 'x-hubspot-ratelimit-interval-milliseconds');
  const windowExhausted = header(headers, 'x-hubspot-ratelimit-remaining') === '0';
  if (policy === 'TEN_SECONDLY_ROLLING' || (policy === undefined && windowExhausted)) {
    const ms = interval !== undefined && /^\d+$/.test(interval.trim()) ? Number(interval) : 10_000;
    return clampRetryDelay(ms);
  }
  if (policy === 'SECONDLY' || header(headers, 'x-hubspot-ratelimit-secondly-remaining') === '0')
    return clampRetryDelay(1_000);
  return undefined;
}

const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*/g, '[redacted-jwt]'],
  [/\bpat-[a-z0-9]+-[\w-]+/gi, '[redacted-token]'],
  [
    /((?:client_secret|access_token|refresh_token|password|api_?key|hapikey)["']?\s*[:=]\s*["']?)[^\s"'&,}]+/gi,
    '$1[redacted]',
  ],
];

/** Removes anything that looks like a credential from text that came from elsewhere. */
export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((acc, [pattern, replacement]) => acc.replace(pattern, replacement), text);
}

const MAX_MESSAGE = 400;

function clean(text: string): string {
  const redacted = redactSecrets(text.replace(/\s+/g, ' ').trim());
  return redacted.length > MAX_MESSAGE ? `${redacted.slice(0, MAX_MESSAGE)}…` : redacted;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

// A gateway in front of the service may answer an HTML page; its text is all we keep.
function textBody(body: unknown): string | undefined {
  const text = str(body);
  return text === undefined
    ? undefined
    : str(
        text
          .replace(/<[^>]*>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      );
}

interface HttpFailure {
  kind: 'http';
  status: number;
  headers: HeaderSource;
  message: string | undefined;
  code: string | undefined;
  correlationId: string | undefined;
  policyName: string | undefined;
}

interface NetworkFailure {
  kind: 'network';
  reason: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

// fetch wraps the system error: TypeError('fetch failed', { cause: Error{ code: 'ECONNREFUSED' } }),
// and the auth0 SDK wraps that once more in a ManagementError without a status.
function networkFailure(err: unknown): NetworkFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && isRecord(current); depth++) {
    const code = str(current.code);
    if (code && NETWORK_CODES.has(code)) return { kind: 'network', reason: code };
    // The auth0 SDK aborts its timeout with the string "timeout", which fetch rejects with as is,
    // so the SDK reports a status-less ManagementError whose cause is that string.
    if (current.cause === 'timeout') return { kind: 'network', reason: 'timed out' };
    const name = str(current.name);
    if (name === 'TimeoutError' || name === 'AbortError' || name === 'ManagementTimeoutError')
      return { kind: 'network', reason: 'timed out' };
    if (current instanceof TypeError && current.message === 'fetch failed') {
      const inner = networkFailure(current.cause);
      return inner ?? { kind: 'network', reason: 'fetch failed' };
    }
    current = current.cause;
  }
  return undefined;
}

function auth0Failure(err: unknown): HttpFailure | undefined {
  if (!isRecord(err) || typeof err.statusCode !== 'number') return undefined;
  const body = err.body;
  const raw = isRecord(err.rawResponse) ? err.rawResponse : undefined;
  return {
    kind: 'http',
    status: err.statusCode,
    headers: raw && isRecord(raw.headers) ? raw.headers : undefined,
    // Management API errors say `message`; the token endpoint answers OAuth's `error_description`.
    message: isRecord(body)
      ? (str(body.message) ?? str(body.error_description) ?? str(body.error))
      : textBody(body),
    code: isRecord(body) ? (str(body.errorCode) ?? str(body.error)) : undefined,
    correlationId: undefined,
    policyName: undefined,
  };
}

function hubspotPolicy(body: Record<string, unknown> | undefined): string | undefined {
  const named = str(body?.policyName);
  if (named) return named;
  const message = str(body?.message)?.toLowerCase() ?? '';
  if (message.includes('ten_secondly_rolling')) return 'TEN_SECONDLY_ROLLING';
  if (message.includes('secondly limit')) return 'SECONDLY';
  if (message.includes('daily')) return 'DAILY';
  return undefined;
}

function hubspotFailure(err: unknown): HttpFailure | undefined {
  if (!isRecord(err) || typeof err.code !== 'number' || !('body' in err)) return undefined;
  const body = isRecord(err.body) ? err.body : undefined;
  return {
    kind: 'http',
    status: err.code,
    headers: isRecord(err.headers) ? err.headers : undefined,
    message: body ? str(body.message) : textBody(err.body),
    code: body ? (str(body.category) ?? str(body.errorType)) : undefined,
    correlationId: body ? str(body.correlationId) : undefined,
    policyName: err.code === 429 ? hubspotPolicy(body) : undefined,
  };
}

/** Whether Temporal should try an HTTP status again: throttling, timeouts and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The `ApplicationFailure` for an error thrown by an SDK call to `service`: 429/408/5xx and
 * network errors are retryable `Transient` failures that carry the wait the service asked for as
 * `nextRetryDelay`; other 4xx are non-retryable `Permanent` failures. An `ApplicationFailure` is
 * returned as it is.
 */
export function toActivityFailure(
  service: Service,
  err: unknown,
  now: number = Date.now(),
): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const http = service === 'auth0' ? auth0Failure(err) : hubspotFailure(err);
  if (http) return httpFailure(service, http, now);
  const network = networkFailure(err);
  if (network) {
    return ApplicationFailure.create({
      message: `${service} ${network.reason === 'timed out' ? 'request timed out' : `unreachable (${network.reason})`}`,
      type: InviteErrorType.Transient,
      nonRetryable: false,
      details: [{ service } satisfies FailureDetails],
    });
  }
  // Neither an HTTP answer nor a known network error (e.g. an unparsable gateway page): trying
  // again is the safer default, and Temporal's retry policy bounds it.
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return ApplicationFailure.create({
    message: clean(`${service} call failed: ${text}`),
    type: InviteErrorType.Transient,
    nonRetryable: false,
    details: [{ service } satisfies FailureDetails],
  });
}

function httpFailure(service: Service, http: HttpFailure, now: number): ApplicationFailure {
  const retryable = isRetryableStatus(http.status);
  const retryAfterMs = retryable
    ? retryDelayFromHeaders(http.headers, {
        now,
        ...(http.policyName ? { policyName: http.policyName } : {}),
      })
    : undefined;
  // The code goes first so that truncating a long service message never loses it.
  const code = http.code ? ` ${http.code}` : '';
  const said = http.message ? `: ${http.message}` : '';
  const details: FailureDetails = {
    service,
    status: http.status,
    ...(http.code ? { code: http.code } : {}),
    ...(http.correlationId ? { correlationId: http.correlationId } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
  return ApplicationFailure.create({
    message: clean(`${service} ${http.status}${code}${said}`),
    type: retryable ? InviteErrorType.Transient : InviteErrorType.Permanent,
    nonRetryable: !retryable,
    details: [details],
    ...(retryAfterMs === undefined ? {} : { nextRetryDelay: retryAfterMs }),
  });
}
