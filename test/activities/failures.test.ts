// Unit tests of the error mapping, with the error classes the SDKs really throw: which failures
// Temporal retries, after how long, and that no credential ever reaches a failure.
import { ApiException } from '@hubspot/api-client/lib/codegen/crm/contacts/apis/exception';
import { ApplicationFailure } from '@temporalio/common';
import { Management, ManagementError, ManagementTimeoutError } from 'auth0';
import { describe, expect, it } from 'vitest';
import {
  MAX_RETRY_DELAY_MS,
  MIN_RETRY_DELAY_MS,
  redactSecrets,
  retryDelayFromHeaders,
  toActivityFailure,
} from '../../activities/failures';
import { InviteErrorType } from '../../workflows/errors';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const NOW_S = NOW / 1000;

function rawResponse(status: number, headers: Record<string, string>) {
  return {
    headers: new Headers(headers),
    redirected: false,
    status,
    statusText: '',
    type: 'basic' as const,
    url: 'https://tenant.auth0.com/api/v2/users/x',
  };
}

function fetchFailed(code: string): TypeError {
  const cause = Object.assign(new Error(`connect ${code} 127.0.0.1:4010`), { code });
  return new TypeError('fetch failed', { cause });
}

describe('retryDelayFromHeaders', () => {
  it('reads Retry-After in seconds', () => {
    expect(retryDelayFromHeaders(new Headers({ 'Retry-After': '12' }), { now: NOW })).toBe(12_000);
  });

  it('reads Retry-After as an HTTP date', () => {
    const date = new Date(NOW + 45_000).toUTCString();
    expect(retryDelayFromHeaders({ 'retry-after': date }, { now: NOW })).toBe(45_000);
  });

  it('prefers Retry-After over the rate-limit reset', () => {
    const headers = {
      'retry-after': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(NOW_S + 30),
    };
    expect(retryDelayFromHeaders(headers, { now: NOW })).toBe(3_000);
  });

  it('waits until x-ratelimit-reset when no requests remain', () => {
    const headers = new Headers({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(NOW_S + 9),
    });
    expect(retryDelayFromHeaders(headers, { now: NOW })).toBe(9_000);
  });

  it('ignores x-ratelimit-reset while requests remain', () => {
    const headers = {
      'x-ratelimit-limit': '50',
      'x-ratelimit-remaining': '49',
      'x-ratelimit-reset': String(NOW_S + 1),
    };
    expect(retryDelayFromHeaders(headers, { now: NOW })).toBeUndefined();
  });

  it('uses the HubSpot window for the TEN_SECONDLY_ROLLING policy', () => {
    const headers = {
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': '100',
      'x-hubspot-ratelimit-remaining': '0',
    };
    expect(retryDelayFromHeaders(headers, { now: NOW, policyName: 'TEN_SECONDLY_ROLLING' })).toBe(10_000);
    expect(retryDelayFromHeaders(headers, { now: NOW })).toBe(10_000);
  });

  it('falls back to ten seconds for TEN_SECONDLY_ROLLING without the interval header', () => {
    expect(retryDelayFromHeaders({}, { now: NOW, policyName: 'TEN_SECONDLY_ROLLING' })).toBe(10_000);
  });

  it('waits a second for the SECONDLY (search) policy', () => {
    expect(retryDelayFromHeaders({}, { now: NOW, policyName: 'SECONDLY' })).toBe(1_000);
  });

  it('clamps to the sane bounds', () => {
    expect(retryDelayFromHeaders({ 'retry-after': '0' }, { now: NOW })).toBe(MIN_RETRY_DELAY_MS);
    expect(retryDelayFromHeaders({ 'retry-after': '86400' }, { now: NOW })).toBe(MAX_RETRY_DELAY_MS);
    const past = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_S - 5) };
    expect(retryDelayFromHeaders(past, { now: NOW })).toBe(MIN_RETRY_DELAY_MS);
  });

  it('says nothing when the service said nothing usable', () => {
    expect(retryDelayFromHeaders(undefined, { now: NOW })).toBeUndefined();
    expect(retryDelayFromHeaders({ 'retry-after': 'soon' }, { now: NOW })).toBeUndefined();
    expect(retryDelayFromHeaders({ 'content-type': 'application/json' }, { now: NOW })).toBeUndefined();
  });
});

describe('toActivityFailure for auth0', () => {
  it('a 429 is retryable after the reset the service announced', () => {
    const err = new Management.TooManyRequestsError(
      {
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Global limit has been reached',
        errorCode: 'too_many_requests',
      },
      rawResponse(429, {
        'x-ratelimit-limit': '2',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(NOW_S + 2),
      }),
    );

    const failure = toActivityFailure('auth0', err, NOW);

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(2_000);
    expect(failure.message).toBe('auth0 429 too_many_requests: Global limit has been reached');
    expect(failure.details).toEqual([
      { service: 'auth0', status: 429, code: 'too_many_requests', retryAfterMs: 2_000 },
    ]);
  });

  it.each([408, 500, 502, 503, 504])('a %i is retryable', (status) => {
    const err = new ManagementError({
      statusCode: status,
      body: { statusCode: status, error: 'x', message: 'boom' },
      rawResponse: rawResponse(status, {}),
    });

    const failure = toActivityFailure('auth0', err, NOW);

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBeUndefined();
  });

  it.each([400, 401, 403, 404, 409])('a %i is permanent', (status) => {
    const err = new ManagementError({
      statusCode: status,
      body: { statusCode: status, error: 'x', message: 'no', errorCode: 'nope' },
      rawResponse: rawResponse(status, { 'retry-after': '5' }),
    });

    const failure = toActivityFailure('auth0', err, NOW);

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.nextRetryDelay).toBeUndefined();
    expect(failure.message).toBe(`auth0 ${status} nope: no`);
  });

  it('a token endpoint refusal (OAuth body, no raw response) is permanent', () => {
    const err = new ManagementError({
      message: 'ManagementClient: token request failed',
      statusCode: 401,
      body: { error: 'access_denied', error_description: 'Unauthorized' },
    });

    const failure = toActivityFailure('auth0', err, NOW);

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.message).toBe('auth0 401 access_denied: Unauthorized');
  });

  it('a network error wrapped by the SDK is retryable', () => {
    const err = new ManagementError({ message: 'fetch failed', cause: fetchFailed('ECONNREFUSED') });

    const failure = toActivityFailure('auth0', err, NOW);

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe('auth0 unreachable (ECONNREFUSED)');
  });

  it('a raw fetch failure from the token request is retryable', () => {
    expect(toActivityFailure('auth0', fetchFailed('ENOTFOUND'), NOW).message).toBe(
      'auth0 unreachable (ENOTFOUND)',
    );
  });

  it('timeouts in both SDK shapes are retryable', () => {
    const fromAbort = new ManagementError({ message: '"timeout"', cause: 'timeout' });
    const typed = new ManagementTimeoutError('Timeout exceeded when calling GET /users/{id}.');

    for (const err of [fromAbort, typed]) {
      const failure = toActivityFailure('auth0', err, NOW);
      expect(failure.type).toBe(InviteErrorType.Transient);
      expect(failure.message).toBe('auth0 request timed out');
    }
  });
});

describe('toActivityFailure for hubspot', () => {
  it('a 429 of the ten-secondly policy waits the announced window', () => {
    const body = {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: 'c-1',
      policyName: 'TEN_SECONDLY_ROLLING',
    };
    const headers = {
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': '190',
      'x-hubspot-ratelimit-remaining': '0',
    };

    const failure = toActivityFailure(
      'hubspot',
      new ApiException(429, 'An error occurred.', body, headers),
      NOW,
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nextRetryDelay).toBe(10_000);
    expect(failure.details).toEqual([
      { service: 'hubspot', status: 429, code: 'RATE_LIMIT', correlationId: 'c-1', retryAfterMs: 10_000 },
    ]);
  });

  it('a 429 of the secondly (search) policy waits a second, recognised by its message', () => {
    const body = {
      status: 'error',
      message: 'You have reached your secondly limit.',
      errorType: 'RATE_LIMIT',
      correlationId: 'c-2',
    };

    const failure = toActivityFailure('hubspot', new ApiException(429, 'An error occurred.', body, {}), NOW);

    expect(failure.nextRetryDelay).toBe(1_000);
  });

  it('a 400 is permanent and keeps the correlation id', () => {
    const body = {
      status: 'error',
      message: 'Property values were not valid',
      correlationId: 'c-3',
      category: 'VALIDATION_ERROR',
    };

    const failure = toActivityFailure('hubspot', new ApiException(400, 'An error occurred.', body, {}), NOW);

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('hubspot 400 VALIDATION_ERROR: Property values were not valid');
    expect(failure.details).toEqual([
      { service: 'hubspot', status: 400, code: 'VALIDATION_ERROR', correlationId: 'c-3' },
    ]);
  });

  it('a 502 is retryable', () => {
    const failure = toActivityFailure(
      'hubspot',
      new ApiException(502, 'An error occurred.', { status: 'error', message: 'Bad gateway' }, {}),
      NOW,
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
  });

  it('a network error is retryable', () => {
    expect(toActivityFailure('hubspot', fetchFailed('ECONNRESET'), NOW).message).toBe(
      'hubspot unreachable (ECONNRESET)',
    );
  });

  it('a gateway’s HTML error page is retryable and reduced to its text', () => {
    const page =
      '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';

    const failure = toActivityFailure(
      'hubspot',
      new ApiException(502, 'An error occurred.', page, { 'content-type': 'text/html' }),
      NOW,
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.message).toBe('hubspot 502: 502 Bad Gateway 502 Bad Gateway');
  });

  it('an unrecognised error (a response without Content-Type) is retryable', () => {
    const failure = toActivityFailure(
      'hubspot',
      new Error('Cannot parse content. No Content-Type defined.'),
      NOW,
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(
      'hubspot call failed: Error: Cannot parse content. No Content-Type defined.',
    );
  });
});

describe('secrets', () => {
  it('an ApplicationFailure passes through unchanged', () => {
    const original = ApplicationFailure.nonRetryable('role missing', InviteErrorType.UnknownRole);
    expect(toActivityFailure('auth0', original)).toBe(original);
  });

  it('credentials a service echoes back never reach the failure', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const body = {
      statusCode: 400,
      error: 'Bad Request',
      message: `bad header Authorization: Bearer ${jwt} client_secret=hunter2-secret`,
    };
    const auth0 = toActivityFailure(
      'auth0',
      new ManagementError({ statusCode: 400, body, rawResponse: rawResponse(400, {}) }),
      NOW,
    );
    const hubspot = toActivityFailure(
      'hubspot',
      new ApiException(
        401,
        'x',
        { message: 'token pat-na1-11111111-2222-3333-4444-555555555555 expired' },
        {},
      ),
      NOW,
    );
    const unknown = toActivityFailure('hubspot', new Error(`failed with access_token=${jwt}`), NOW);

    for (const failure of [auth0, hubspot, unknown]) {
      const text = `${failure.message} ${JSON.stringify(failure.details)}`;
      expect(text).not.toContain(jwt);
      expect(text).not.toContain('hunter2-secret');
      expect(text).not.toContain('pat-na1-11111111');
    }
  });

  it('redactSecrets leaves ordinary text alone', () => {
    expect(redactSecrets('The user does not exist.')).toBe('The user does not exist.');
    expect(redactSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
  });
});
