/**
 * Payload encryption end to end on the Temporal dev server: a worker and a client sharing the
 * codec run an invite to completion; the history as the server stores it (read by a client
 * without the codec) holds neither the email nor the invite's data, yet decodes and replays with
 * the codec. A run whose activity failed with a message quoting the address keeps that message
 * out of the stored history too (failure converter). The codec endpoint the Temporal UI calls
 * decrypts the same payloads for an authorized operator only, with CORS for the UI's origin, or,
 * in local development, for a tokenless request from this machine.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, createLocalJWKSet, SignJWT } from 'jose';
import { Client } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { EncryptionCodec, emailSearchValue, ENCRYPTED_ENCODING } from '../../../client/codec';
import { temporalDataConverter } from '../../../client/connection';
import { inviteWorkflowId, redeemUpdate, searchAttributes, statusQuery } from '../../../workflows/messages';
import { InviteErrorType } from '../../../workflows/errors';
import type { inviteWorkflow } from '../../../workflows/invite';
import { startHarness, uniqueEmail } from '../../support/api-harness';
import { WAIT } from '../../support/wait';
import type { Harness } from '../../support/api-harness';
import { fakeActivities } from '../../support/fake-activities';
import { workflowBundle } from '../../support/temporal';

const keys = [{ id: 'test-2025', key: randomBytes(32).toString('base64') }];
const dataConverter = temporalDataConverter({ PAYLOAD_KEYS: keys });
const codec = new EncryptionCodec(keys);
const UI_ORIGIN = 'http://ui.test:8233';

let h: Harness;
let worker: Worker;
let running: Promise<void>;
let codecApp: FastifyInstance;
let signToken: (scope: string) => Promise<string>;
const fake = fakeActivities();
const taskQueue = `codec-${randomBytes(6).toString('hex')}`;

const email = uniqueEmail('secret');
const leadId = `lead-${randomBytes(8).toString('hex')}`;
const inviteId = randomBytes(13).toString('hex');
let rawHistory: temporal.api.history.v1.IHistory;

beforeAll(async () => {
  h = await startHarness();
  worker = await Worker.create({ connection: h.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fake.activities, dataConverter });
  running = worker.run();

  // Bearer tokens from a key of our own: the emulator's default grant has no `invites:decode`.
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'codec-test', alg: 'RS256' };
  signToken = (scope) =>
    new SignJWT({ scope })
      .setProtectedHeader({ alg: 'RS256', kid: 'codec-test' })
      .setIssuer(h.config.AUTH_ISSUER)
      .setAudience(h.config.AUTH_AUDIENCE)
      .setSubject('operator@clients')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  codecApp = await h.buildApp({
    bearerKeys: createLocalJWKSet({ keys: [jwk] }),
    codec: { codec, corsOrigin: UI_ORIGIN, namespace: 'default' },
  });

  const client = new Client({ connection: h.env.connection, dataConverter });
  const searchValue = emailSearchValue(email, h.config.INVITE_ID_KEY);
  const handle = await client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
    taskQueue,
    workflowId: inviteWorkflowId(inviteId),
    args: [{ inviteId, email, roles: ['member'], data: { leadId }, scope: 'workspace:acme', locale: 'en', emailSearchValue: searchValue }],
    typedSearchAttributes: [
      { key: searchAttributes.status, value: 'pending' },
      { key: searchAttributes.email, value: searchValue },
    ],
  });
  const sent = await vi.waitFor(() => {
    const email = fake.calls.emails.find((e) => e.inviteId === inviteId);
    expect(email, 'the invite email').toBeDefined();
    return email!;
  }, WAIT);
  const answer = await handle.executeUpdate(redeemUpdate, {
    args: [{ linkId: sent.jti, user: { userId: 'auth0|secret', email, emailVerified: true, connection: 'Username-Password-Authentication' } }],
  });
  expect(answer.data).toEqual({ leadId });
  expect((await handle.result()).state).toBe('completed');
  rawHistory = await h.env.client.workflow.getHandle(inviteWorkflowId(inviteId)).fetchHistory();
}, 60_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await h?.close();
});

/** Every payload of a history, with whether it is a search attribute (which codecs never see). */
/**
 * Every payload of a history. `clear`: search attributes, and the details of `patched()` markers,
 * which the SDK's core writes itself (the patch id only), outside the data converter.
 */
function payloadsOf(node: unknown, clear = false, out: { payload: Payload; clear: boolean }[] = []) {
  if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return out;
  if ('data' in node && 'metadata' in node && (node as Payload).metadata && typeof (node as Payload).metadata === 'object') {
    out.push({ payload: node as Payload, clear });
    return out;
  }
  const patchMarker = (node as { markerName?: string }).markerName === 'core_patch';
  for (const [k, v] of Object.entries(node)) payloadsOf(v, clear || k === 'searchAttributes' || (patchMarker && k === 'details'), out);
  return out;
}

describe('an invite run with payload encryption', () => {
  it('stores neither the email nor the data in clear', () => {
    const json = historyToJSON(rawHistory);
    expect(json).not.toContain(email);
    expect(json).not.toContain(leadId);
    const all = payloadsOf(rawHistory);
    const encrypted = all.filter((p) => !p.clear);
    expect(encrypted.length).toBeGreaterThan(5);
    for (const { payload } of encrypted) {
      expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    }
    for (const { payload } of all) {
      expect(Buffer.from(payload.data ?? []).toString('latin1')).not.toContain(email);
      expect(Buffer.from(payload.data ?? []).toString('latin1')).not.toContain(leadId);
    }
  });

  it('keeps the email searchable only through its keyed hash', async () => {
    const hashed = emailSearchValue(email, h.config.INVITE_ID_KEY);
    await vi.waitFor(async () => {
      const ids: string[] = [];
      for await (const wf of h.env.client.workflow.list({ query: `InviteEmail = '${hashed}'` })) ids.push(wf.workflowId);
      expect(ids).toEqual([inviteWorkflowId(inviteId)]);
    }, WAIT);
  });

  it('decodes with the codec: the input carries the email and the data', async () => {
    const started = rawHistory.events![0]!.workflowExecutionStartedEventAttributes!;
    const [input] = await codec.decode(started.input!.payloads!);
    expect(defaultPayloadConverter.fromPayload(input!)).toMatchObject({ email, data: { leadId } });
  });

  it('replays with the codec and not without it', async () => {
    const bundle = await workflowBundle();
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, rawHistory, 'encrypted-redeem');
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, rawHistory, 'encrypted-redeem')).rejects.toThrow();
  });
});

describe('a run whose activity failed with a message quoting the address', () => {
  // What a mail server or SDK may say; the message, the stack trace and the workflow's copy of it
  // must all leave the process encrypted (failure converter with encodeCommonAttributes + codec).
  const refused = uniqueEmail('refused');
  const refusal = `550 5.1.1 <${refused}>: Recipient address rejected: User unknown`;
  const refusedId = randomBytes(13).toString('hex');
  let failedHistory: temporal.api.history.v1.IHistory;

  beforeAll(async () => {
    const refusingQueue = `${taskQueue}-refused`;
    const refusing = await Worker.create({
      connection: h.env.nativeConnection,
      taskQueue: refusingQueue,
      workflowBundle: await workflowBundle(),
      dataConverter,
      activities: {
        ...fake.activities,
        sendInviteEmail: () => Promise.reject(ApplicationFailure.create({ message: refusal, type: InviteErrorType.Permanent, nonRetryable: true })),
      },
    });
    const client = new Client({ connection: h.env.connection, dataConverter });
    const searchValue = emailSearchValue(refused, h.config.INVITE_ID_KEY);
    failedHistory = await refusing.runUntil(async () => {
      const handle = await client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
        taskQueue: refusingQueue,
        workflowId: inviteWorkflowId(refusedId),
        args: [{ inviteId: refusedId, email: refused, roles: [], data: {}, scope: 'workspace:acme', locale: 'en', emailSearchValue: searchValue }],
        typedSearchAttributes: [{ key: searchAttributes.email, value: searchValue }],
      });
      // The workflow reads the failure back through the same converter: the refusal is in its status.
      await vi.waitFor(async () => expect((await handle.query(statusQuery)).emailError).toBe(refusal), { timeout: 20_000, interval: 100 });
      const raw = new Client({ connection: h.env.connection });
      return raw.workflow.getHandle(inviteWorkflowId(refusedId)).fetchHistory();
    });
  }, 60_000);

  it('records the activity failure without the address or the refusal text in clear', () => {
    const failed = failedHistory.events!.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
    expect(failed, 'an ActivityTaskFailed event').toBeDefined();
    const failure = failed!.failure!;
    // What Temporal stores (and its UI shows without the codec) in place of message and stack.
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace ?? '').toBe('');
    expect(Buffer.from(failure.encodedAttributes!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    const json = historyToJSON(failedHistory);
    expect(json).not.toContain(refused);
    expect(json).not.toContain('Recipient address rejected');
    for (const { payload } of payloadsOf(failedHistory)) {
      expect(Buffer.from(payload.data ?? []).toString('latin1')).not.toContain(refused);
    }
  });

  it('decodes with the keys: the operator reads the refusal', async () => {
    const failure = failedHistory.events!.find((e) => e.activityTaskFailedEventAttributes)!.activityTaskFailedEventAttributes!.failure!;
    const [attributes] = await codec.decode([failure.encodedAttributes!]);
    expect(defaultPayloadConverter.fromPayload(attributes!)).toMatchObject({ message: refusal });
  });

  it('replays with the codec and its failure converter', async () => {
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter }, failedHistory, 'encrypted-refusal');
  });
});

describe('the codec endpoint', () => {
  const body = () => {
    const started = rawHistory.events![0]!.workflowExecutionStartedEventAttributes!;
    const p = started.input!.payloads![0]!;
    return {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(p.data!).toString('base64'),
        },
      ],
    };
  };

  it('decodes a history payload for an operator with invites:decode, with CORS for the UI', async () => {
    const res = await codecApp.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${await signToken('invites:decode')}`, 'x-namespace': 'default', origin: UI_ORIGIN },
      payload: body(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    const decoded = res.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>().payloads[0]!;
    expect(Buffer.from(decoded.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.data, 'base64').toString())).toMatchObject({ email, data: { leadId } });
  });

  it('encodes what decode reads back, beyond the 32 kB body limit of the invite routes', async () => {
    const token = await signToken('invites:decode');
    const big = JSON.stringify({ x: 'y'.repeat(60_000) });
    const plain = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(big).toString('base64') }] };
    const enc = await codecApp.inject({ method: 'POST', url: '/codec/encode', headers: { authorization: `Bearer ${token}` }, payload: plain });
    expect(enc.statusCode).toBe(200);
    const encoded = enc.json<typeof plain>();
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    const dec = await codecApp.inject({ method: 'POST', url: '/codec/decode', headers: { authorization: `Bearer ${token}` }, payload: encoded });
    expect(dec.json()).toEqual(plain);
  });

  it.each([
    ['no token', undefined, 401, 'unauthorized'],
    ['a token without invites:decode', 'invites:read invites:write', 403, 'insufficient_scope'],
  ])('refuses %s', async (_name, scope, status, code) => {
    const res = await codecApp.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { ...(scope ? { authorization: `Bearer ${await signToken(scope)}` } : {}), origin: UI_ORIGIN },
      payload: body(),
    });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    expect(res.body).not.toContain(leadId);
    expect(res.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
  });

  it('refuses another namespace, a tampered payload and non-base64 input', async () => {
    const headers = { authorization: `Bearer ${await signToken('invites:decode')}` };
    const other = await codecApp.inject({ method: 'POST', url: '/codec/decode', headers: { ...headers, 'x-namespace': 'prod' }, payload: body() });
    expect([other.statusCode, other.json().error.code]).toEqual([400, 'invalid_request']);
    const tampered = body();
    tampered.payloads[0]!.data = Buffer.from(Buffer.from(tampered.payloads[0]!.data, 'base64').map((b, i) => (i === 30 ? b ^ 1 : b))).toString('base64');
    const bad = await codecApp.inject({ method: 'POST', url: '/codec/decode', headers, payload: tampered });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'invalid_request']);
    const junk = await codecApp.inject({ method: 'POST', url: '/codec/decode', headers, payload: { payloads: [{ data: '%%%' }] } });
    expect([junk.statusCode, junk.json().error.code]).toEqual([400, 'invalid_request']);
  });

  it('answers the UI preflight for its origin only', async () => {
    const preflight = (origin: string) =>
      codecApp.inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' },
      });
    const ok = await preflight(UI_ORIGIN);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(String(ok.headers['access-control-allow-headers'])).toContain('x-namespace');
    const evil = await preflight('https://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  describe('in local development (CODEC_LOOPBACK_WITHOUT_TOKEN)', () => {
    let devApp: FastifyInstance;
    beforeAll(async () => {
      devApp = await h.buildApp({ codec: { codec, corsOrigin: UI_ORIGIN, namespace: 'default', loopbackWithoutToken: true } });
      await devApp.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(() => devApp?.close());
    const decodedEmail = (res: { json: <T>() => T }) =>
      JSON.parse(Buffer.from(res.json<{ payloads: { data: string }[] }>().payloads[0]!.data, 'base64').toString()) as { email: string };

    it('decodes for the local UI over a real loopback socket without a token', async () => {
      const { port } = devApp.server.address() as { port: number };
      const res = await fetch(`http://localhost:${port}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin: UI_ORIGIN },
        body: JSON.stringify(body()),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
      const json = (await res.json()) as { payloads: { data: string }[] };
      expect(JSON.parse(Buffer.from(json.payloads[0]!.data, 'base64').toString())).toMatchObject({ email });
      // The token-free door is for this machine only: the same call with a token still checks it.
      const bad = await fetch(`http://localhost:${port}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
        body: JSON.stringify(body()),
      });
      expect(bad.status).toBe(401);
    });

    it.each([
      ['another machine', { remoteAddress: '203.0.113.7' }, {}],
      ['a request relayed by a local proxy', {}, { 'x-forwarded-for': '203.0.113.7' }],
      ['a request relayed with Forwarded', {}, { forwarded: 'for=203.0.113.7' }],
      ['another site open in the browser', {}, { origin: 'https://evil.example' }],
      ['a DNS-rebound host name', {}, { host: 'evil.example:3000' }],
    ])('still asks %s for a bearer token', async (_name, opts, headers) => {
      const res = await devApp.inject({ method: 'POST', url: '/codec/decode', ...opts, headers: { host: 'localhost:3000', ...headers }, payload: body() });
      expect([res.statusCode, res.json().error.code]).toEqual([401, 'unauthorized']);
      expect(res.body).not.toContain(email);
    });

    it('answers the same request from loopback (the baseline of the refusals above)', async () => {
      const res = await devApp.inject({ method: 'POST', url: '/codec/decode', headers: { host: 'localhost:3000' }, payload: body() });
      expect(res.statusCode).toBe(200);
      expect(decodedEmail(res).email).toBe(email);
    });
  });

  it('is not served without payload keys', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/codec/decode', payload: body() });
    expect(res.statusCode).toBe(404);
  });
});
