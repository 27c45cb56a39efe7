// Search-attribute registration on a real Temporal dev server started WITHOUT our attributes:
// before it the server refuses them, after it the real invite workflow's upserts land and a
// visibility query finds the invite; a second run adds nothing; a type clash is an error. The
// Temporal Cloud refusal is checked with a stub operator service, since Cloud is not reachable.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { requireBinary } from '../../../scripts/temporal-bin.mjs';
import {
  TemporalCloudSearchAttributesError,
  looksLikeTemporalCloud,
  registerSearchAttributes,
  runTemporalSetup,
} from '../../../scripts/setup/temporal';
import type { OperatorConnection } from '../../../scripts/setup/temporal';
import { fakeActivities } from '../../support/fake-activities';
import { workflowBundle } from '../../support/temporal';
import { testDataConverter } from '../../support/payload-keys';
import { WAIT } from '../../support/wait';
import { SEARCH_ATTRIBUTE_DEFINITIONS, inviteWorkflowId, searchAttributes } from '../../../workflows/messages';
import type { InviteInput } from '../../../workflows/messages';

const NAMES = Object.keys(SEARCH_ATTRIBUTE_DEFINITIONS);

let env: TestWorkflowEnvironment;
let namespace: string;

beforeAll(async () => {
  [env] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: requireBinary('cli') },
        log: { format: 'pretty', level: 'warn' },
      },
    }),
    workflowBundle(),
  ]);
  namespace = env.namespace ?? 'default';
});

afterAll(async () => {
  await env?.teardown();
});

async function customAttributeNames(): Promise<string[]> {
  const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace });
  return Object.keys(customAttributes ?? {});
}

/** Polls a visibility query until it finds `count` workflows; visibility is eventually consistent. */
async function listUntil(query: string, count: number): Promise<string[]> {
  return vi.waitFor(async () => {
    const ids: string[] = [];
    for await (const wf of env.client.workflow.list({ query })) ids.push(wf.workflowId);
    expect(ids.length, query).toBeGreaterThanOrEqual(count);
    return ids;
  }, WAIT);
}

describe('registerSearchAttributes on a dev server', () => {
  // The cases share one server, so they run in order: without, register, again, use, clash.
  it('starts without our attributes, and the server refuses them', async () => {
    expect(await customAttributeNames()).not.toContain('InviteStatus');
    const refused = await env.client.workflow
      .start('inviteWorkflow', {
        taskQueue: 'nowhere',
        workflowId: `probe-${randomBytes(4).toString('hex')}`,
        typedSearchAttributes: [{ key: searchAttributes.status, value: 'pending' }],
      })
      .then(
        () => new Error('expected a refusal'),
        (e: unknown) => e as Error,
      );
    expect(String((refused.cause as Error | undefined)?.message)).toMatch(/InviteStatus/);
  });

  it('registers all four, then finds them present on a second run', async () => {
    const first = await registerSearchAttributes(env.connection, namespace);
    const second = await registerSearchAttributes(env.connection, namespace);

    expect(first).toEqual({ namespace, created: NAMES, present: [] });
    expect(second).toEqual({ namespace, created: [], present: NAMES });
    expect(await customAttributeNames()).toEqual(expect.arrayContaining(NAMES));
  });

  it('lets the invite workflow upsert them and a list query find the invite', async () => {
    const taskQueue = `setup-${randomBytes(4).toString('hex')}`;
    const email = `${randomBytes(4).toString('hex')}@example.com`;
    const input: InviteInput = {
      inviteId: randomBytes(10).toString('hex'),
      email,
      roles: ['member'],
      data: {},
      scope: 'workspace:setup',
      locale: 'en',
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fakeActivities().activities,
      dataConverter: testDataConverter,
    });

    const found = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('inviteWorkflow', {
        taskQueue,
        workflowId: inviteWorkflowId(input.inviteId),
        args: [input],
      });
      const ids = await listUntil(
        `InviteEmail = '${email}' AND InviteStatus = 'pending' AND InviteExpiresAt > '2000-01-01T00:00:00Z'`,
        1,
      );
      await handle.terminate('test done');
      return ids;
    });

    expect(found).toEqual([inviteWorkflowId(input.inviteId)]);
  });

  it('refuses an attribute that exists with another type', async () => {
    await expect(
      registerSearchAttributes(env.connection, namespace, { definitions: { InviteExpiresAt: 'Keyword' } }),
    ).rejects.toThrow(/InviteExpiresAt exists .* with type INDEXED_VALUE_TYPE_DATETIME, expected Keyword/);
  });

  it('refuses half an mTLS configuration before connecting', async () => {
    await expect(
      runTemporalSetup({
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: namespace,
        TEMPORAL_TLS_CERT: '/etc/ssl/client.pem',
      }),
    ).rejects.toThrow(/TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/);
  });

  it('runs as a CLI with the worker’s Temporal variables', async () => {
    const out = await runTemporalSetup({ TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: namespace });

    expect(out).toContain(`namespace ${namespace} at ${env.address}`);
    for (const name of NAMES) expect(out).toMatch(new RegExp(`^present +search attribute ${name} `, 'm'));
  });
});

describe('refusals and races, on a stub operator service', () => {
  const refusing = (code: number): OperatorConnection =>
    ({
      operatorService: {
        listSearchAttributes: () => Promise.resolve({ customAttributes: {} }),
        addSearchAttributes: () =>
          Promise.reject(
            Object.assign(new Error('Request unauthorized.'), {
              code,
              details: 'Request unauthorized.',
              metadata: {},
            }),
          ),
      },
    }) as unknown as OperatorConnection;

  it('turns a refusal into the tcld command for the namespace', async () => {
    const error = await registerSearchAttributes(refusing(7), 'inviteflow.a1b2c', { cloud: true }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(TemporalCloudSearchAttributesError);
    expect((error as Error).message).toContain(
      'tcld namespace search-attributes add --namespace inviteflow.a1b2c --search-attribute "InviteStatus=Keyword" --search-attribute "InviteEmail=Keyword" --search-attribute "InviteScope=Keyword" --search-attribute "InviteExpiresAt=Datetime"',
    );
  });

  it('reads again and retries when another run registered some of them first', async () => {
    for (const answer of [
      { code: 6, details: 'Search attribute InviteStatus already exists.' },
      { code: 3, details: 'Search attribute InviteStatus already exists.' },
    ]) {
      const registered: Record<string, number> = {};
      let adds = 0;
      const racing = {
        operatorService: {
          listSearchAttributes: () => Promise.resolve({ customAttributes: { ...registered } }),
          addSearchAttributes: (request: { searchAttributes: Record<string, number> }) => {
            adds++;
            if (adds === 1) {
              // The other run wins the race for one attribute; this batch is refused whole.
              registered.InviteStatus = request.searchAttributes.InviteStatus!;
              return Promise.reject(Object.assign(new Error(answer.details), { ...answer, metadata: {} }));
            }
            Object.assign(registered, request.searchAttributes);
            return Promise.resolve({});
          },
        },
      } as unknown as OperatorConnection;

      const result = await registerSearchAttributes(racing, 'default');

      expect(result).toEqual({
        namespace: 'default',
        created: ['InviteEmail', 'InviteScope', 'InviteExpiresAt'],
        present: ['InviteStatus'],
      });
      expect(Object.keys(registered).sort()).toEqual([...NAMES].sort());
    }
  });

  it('passes the refusal on unchanged for a self-hosted cluster', async () => {
    await expect(registerSearchAttributes(refusing(7), 'default', { cloud: false })).rejects.toThrow(
      'Request unauthorized.',
    );
  });

  it('recognises Cloud by API key, client certificate or address', () => {
    expect(looksLikeTemporalCloud({ TEMPORAL_ADDRESS: 'localhost:7233', TEMPORAL_API_KEY: 'k' })).toBe(true);
    expect(looksLikeTemporalCloud({ TEMPORAL_ADDRESS: 'localhost:7233', TEMPORAL_TLS_CERT: '/c.pem' })).toBe(
      true,
    );
    expect(looksLikeTemporalCloud({ TEMPORAL_ADDRESS: 'inviteflow.a1b2c.tmprl.cloud:7233' })).toBe(true);
    expect(looksLikeTemporalCloud({ TEMPORAL_ADDRESS: 'temporal.internal:7233' })).toBe(false);
  });
});
