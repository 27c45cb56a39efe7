/**
 * Operational routes and cross-cutting behaviour: liveness, readiness (also with Temporal
 * unreachable), Prometheus metrics, the OpenAPI document and docs page, unknown routes, and
 * errors that never show a stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { json, startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

describe('health', () => {
  it('answers liveness and readiness', async () => {
    const live = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(200);
    expect(json(live)).toEqual({ status: 'ok' });
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(json(ready)).toEqual({ status: 'ready' });
  });

  it('is not ready, and refuses invite calls with 503, while Temporal is unreachable', async () => {
    // Nothing listens on port 1: every call fails at once, like a Temporal outage.
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = await h.buildApp({ temporal: new Client({ connection }), timeouts: { readMs: 1000, updateMs: 1000 } });
    try {
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(json(ready).error.code).toBe('service_unavailable');
      const create = await app.inject({
        method: 'POST',
        url: '/v1/invites',
        headers: { authorization: `Bearer ${await h.bearer()}` },
        payload: { email: uniqueEmail() },
      });
      expect(create.statusCode).toBe(503);
      expect(json(create).error.code).toBe('service_unavailable');
      expect(create.headers['retry-after']).toBeDefined();
    } finally {
      await connection.close();
    }
  });
});

describe('metrics', () => {
  it('exposes HTTP, invite and default process metrics in Prometheus format', async () => {
    const token = await h.bearer();
    const created = await h.app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${token}` }, payload: { email: uniqueEmail() } });
    expect(created.statusCode).toBe(201);
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/inviteflow_invites_created_total\{result="created"\} [1-9]/);
    expect(res.body).toMatch(/inviteflow_http_requests_total\{method="POST",route="\/v1\/invites",status_code="201"\} [1-9]/);
    expect(res.body).toContain('inviteflow_http_request_duration_seconds_bucket');
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toContain('inviteflow_redemption_duration_seconds');
  });

  it('labels link pages by route template, never by URL', async () => {
    await h.app.inject({ method: 'GET', url: '/i/some-token-value' });
    const body = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(body).toContain('route="/i/:token"');
    expect(body).not.toContain('some-token-value');
  });
});

describe('OpenAPI and errors', () => {
  it('documents every route, with its security, and serves the docs page', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = json(res);
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(routes).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'POST /v1/invites',
        'GET /v1/invites',
        'GET /v1/invites/{id}',
        'GET /v1/invites/{id}/history',
        'POST /v1/invites/{id}/revoke',
        'POST /v1/invites/{id}/resend',
        'POST /v1/invites/{id}/extend',
        'POST /v1/redemptions',
        'POST /v1/claims',
        'POST /v1/email-events',
        'POST /v1/email-events/mailgun',
        'GET /i/{token}',
        'GET /i/{token}/decline',
        'POST /i/{token}/decline',
      ].sort(),
    );
    expect(doc.paths['/v1/invites'].post.security).toEqual([{ bearerAuth: ['invites:create'] }]);
    expect(doc.paths['/v1/redemptions'].post.security).toEqual([{ actionToken: [] }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['actionToken', 'bearerAuth']);
    expect(doc.paths['/v1/invites'].post.requestBody.content['application/json'].schema).toBeDefined();

    const docs = await h.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });

  it('answers unknown routes with 404 not_found', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v2/nothing?x=1' });
    expect(res.statusCode).toBe(404);
    expect(json(res)).toEqual({ error: { code: 'not_found', message: 'No route for GET /v2/nothing' } });
    const wrongMethod = await h.app.inject({ method: 'DELETE', url: '/v1/invites' });
    expect(wrongMethod.statusCode).toBe(404);
    expect(json(wrongMethod).error.code).toBe('not_found');
  });
});
