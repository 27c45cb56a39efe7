/**
 * The worker's configuration of its rate pacing and sticky cache: defaults, the pacers and the
 * clients built from them, and refusals that name every bad variable.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadWorkerConfig } from '../../lib/config';
import { buildOutboundPacers } from '../../worker/clients';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';

const minimal = {
  ...TEST_PAYLOAD_ENV,
  LINK_SIGNING_KEY: JSON.stringify({ kty: 'OKP', kid: 'x' }),
  AUTH0_DOMAIN: 'tenant.eu.auth0.com',
  AUTH0_CLIENT_ID: 'id',
  AUTH0_CLIENT_SECRET: 'secret',
  HUBSPOT_ACCESS_TOKEN: 'token',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig({ ...minimal, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadWorkerConfig: rate limits and cache', () => {
  it("paces to the free plans' limits by default and leaves the cache to the worker's default", () => {
    const cfg = loadWorkerConfig(minimal);
    expect(cfg).toMatchObject({
      AUTH0_MGMT_RATE_LIMIT: 2,
      HUBSPOT_RATE_LIMIT: { max: 100, intervalMs: 10_000 },
    });
    expect(cfg.AUTH0_MGMT_RATE_BURST).toBeUndefined();
    expect(cfg.WORKER_MAX_CACHED_WORKFLOWS).toBeUndefined();
    const pacers = buildOutboundPacers(cfg);
    expect([pacers.auth0?.max, pacers.auth0?.windowMs]).toEqual([2, 1000]);
    expect([pacers.hubspot?.max, pacers.hubspot?.windowMs]).toEqual([100, 10_000]);
  });

  it('reads a share of a paid plan, a burst, an interval in any unit, and a cache size', () => {
    const cfg = loadWorkerConfig({
      ...minimal,
      AUTH0_MGMT_RATE_LIMIT: '7.5',
      AUTH0_MGMT_RATE_BURST: '15',
      HUBSPOT_RATE_LIMIT: '95/10000ms',
      WORKER_MAX_CACHED_WORKFLOWS: '500',
    });
    expect(cfg).toMatchObject({
      AUTH0_MGMT_RATE_LIMIT: 7.5,
      AUTH0_MGMT_RATE_BURST: 15,
      HUBSPOT_RATE_LIMIT: { max: 95, intervalMs: 10_000 },
      WORKER_MAX_CACHED_WORKFLOWS: 500,
    });
    expect(loadWorkerConfig({ ...minimal, HUBSPOT_RATE_LIMIT: '190/1m' }).HUBSPOT_RATE_LIMIT).toEqual({
      max: 190,
      intervalMs: 60_000,
    });
    const pacers = buildOutboundPacers(cfg);
    // A bucket of 15 refilled at 7.5/s: 15 per 2 s.
    expect([pacers.auth0?.max, pacers.auth0?.windowMs]).toEqual([15, 2000]);
  });

  it('turns pacing off with 0 (an empty value means the default)', () => {
    const cfg = loadWorkerConfig({ ...minimal, AUTH0_MGMT_RATE_LIMIT: '0', HUBSPOT_RATE_LIMIT: '0' });
    expect(cfg.AUTH0_MGMT_RATE_LIMIT).toBe(0);
    expect(cfg.HUBSPOT_RATE_LIMIT).toBeUndefined();
    expect(buildOutboundPacers(cfg)).toEqual({ auth0: undefined, hubspot: undefined });
    expect(loadWorkerConfig({ ...minimal, AUTH0_MGMT_RATE_LIMIT: '', HUBSPOT_RATE_LIMIT: '' })).toMatchObject(
      {
        AUTH0_MGMT_RATE_LIMIT: 2,
        HUBSPOT_RATE_LIMIT: { max: 100, intervalMs: 10_000 },
      },
    );
  });

  it('refuses malformed values, naming each variable and never its value', () => {
    const problems = problemsOf({
      AUTH0_MGMT_RATE_LIMIT: '-2',
      AUTH0_MGMT_RATE_BURST: '2.5',
      HUBSPOT_RATE_LIMIT: '100 per 10s',
      WORKER_MAX_CACHED_WORKFLOWS: '0',
    });
    expect(problems).toHaveLength(4);
    const text = problems.join('\n');
    expect(text).toContain('AUTH0_MGMT_RATE_LIMIT: must be requests per second');
    expect(text).toContain('AUTH0_MGMT_RATE_BURST: must be a positive integer');
    expect(text).toContain('HUBSPOT_RATE_LIMIT: must be <max>/<interval> like 100/10s');
    expect(text).toContain('WORKER_MAX_CACHED_WORKFLOWS: must be a positive integer');
    expect(text).not.toContain('100 per 10s');
    for (const bad of ['fast', '1e3', '2/s'])
      expect(problemsOf({ AUTH0_MGMT_RATE_LIMIT: bad })).toHaveLength(1);
    for (const bad of ['100', '100/10', '0/10s', '100/0s', '100/10h'])
      expect(problemsOf({ HUBSPOT_RATE_LIMIT: bad })).toHaveLength(1);
  });
});
