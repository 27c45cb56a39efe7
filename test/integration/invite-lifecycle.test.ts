/**
 * One invite end to end on a real Temporal server with the real worker, real activities, a real
 * SMTP server and the Auth0 and HubSpot emulators driven by their real SDKs: started, emailed, the
 * link from the email redeemed, roles and data in Auth0, contact in HubSpot, completed, and
 * findable by its search attributes. `npm test` runs it on the Temporal dev server; `npm run
 * test:cluster` runs it again on Temporal on PostgreSQL with SQL visibility (`TEST_TEMPORAL_ADDRESS`,
 * see test/support/temporal.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher } from '../../emulators/mail';
import { createActivities } from '../../activities';
import { loadWorkerConfig } from '../../lib/config';
import { deriveInviteId } from '../../client/invite-id';
import { createLinkVerifier, generateLinkKey } from '../../lib/token';
import { buildActivityDeps } from '../../worker/clients';
import { createInviteWorker } from '../../worker/worker';
import {
  inviteWorkflowId,
  redeemUpdate,
  searchAttributes,
  statusQuery,
} from '../../workflows/messages';
import type { inviteWorkflow } from '../../workflows/invite';
import { realServerEnv, testTaskQueue, workflowBundle } from '../support/temporal';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';
import { temporalDataConverter } from '../../client/connection';

let env: TestWorkflowEnvironment;
let auth0: Auth0Emulator;
let hubspot: HubSpotEmulator;
let mail: MailCatcher;
let worker: Worker;
let running: Promise<void>;
let closeClients: () => Promise<void>;
const PUBLIC_BASE_URL = 'http://localhost:3999';
const taskQueue = testTaskQueue();
let publicJwk: Awaited<ReturnType<typeof generateLinkKey>>['publicJwk'];

beforeAll(async () => {
  [env, auth0, hubspot, mail] = await Promise.all([
    realServerEnv(),
    startAuth0Emulator(),
    startHubSpotEmulator(),
    startMailCatcher({ smtpPort: 0, httpPort: 0 }),
  ]);
  const key = await generateLinkKey('link-1');
  publicJwk = key.publicJwk;
  // The worker is configured exactly as in production, through its environment variables.
  const cfg = loadWorkerConfig({
    ...TEST_PAYLOAD_ENV,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    PUBLIC_BASE_URL,
    LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
    SMTP_URL: mail.smtpUrl,
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  const clients = buildActivityDeps(cfg);
  closeClients = () => clients.close();
  worker = await createInviteWorker({
    connection: env.nativeConnection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    activities: createActivities(clients.deps),
    workflowBundle: await workflowBundle(),
    dataConverter: temporalDataConverter(cfg),
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await closeClients?.();
  await Promise.all([env?.teardown(), auth0?.close(), hubspot?.close(), mail?.close()]);
});

describe('an invite on a real Temporal server', () => {
  it('goes from the email to redemption, Auth0 roles and data, the HubSpot contact, completed', async () => {
    auth0.createRole('member');
    auth0.createRole('billing');
    const email = `grace.${randomBytes(4).toString('hex')}@example.com`;
    const scope = 'workspace:acme';
    const inviteId = deriveInviteId('integration-test-key-0001', email, scope);
    const expiresAt = new Date(Date.now() + 7 * 24 * 3600 * 1000);

    const handle = await env.client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
      taskQueue,
      workflowId: inviteWorkflowId(inviteId),
      args: [{ inviteId, email, roles: ['member', 'billing'], data: { leadId: 'L-7', plan: 'team' }, scope, locale: 'fr', inviter: { name: 'Équipe Acme' } }],
      typedSearchAttributes: [
        { key: searchAttributes.status, value: 'pending' },
        { key: searchAttributes.email, value: email },
        { key: searchAttributes.scope, value: scope },
        { key: searchAttributes.expiresAt, value: expiresAt },
      ],
    });

    // The email went over real SMTP, in French, with a link whose token names this invite.
    const message = await mail.waitForMessage((m) => m.to.includes(email), 30_000);
    expect(message.subject).toMatch(/invit/i);
    expect(message.html).toContain('Équipe Acme');
    const link = /https?:\/\/\S+\/i\/([A-Za-z0-9_.-]+)/.exec(message.text)?.[0];
    expect(link?.startsWith(`${PUBLIC_BASE_URL}/i/`)).toBe(true);
    const token = link!.slice(`${PUBLIC_BASE_URL}/i/`.length);
    const verifier = createLinkVerifier({ verificationKeys: [publicJwk], issuer: PUBLIC_BASE_URL, audience: 'inviteflow-link' });
    const claims = await verifier.verify(token);
    expect(claims.inviteId).toBe(inviteId);
    expect(token).not.toContain(Buffer.from(email).toString('base64url'));

    // A fresh sign-up with the invited address: not yet verified in Auth0.
    const user = auth0.createUser({ email, password: 'correct horse battery staple', email_verified: false });
    const answer = await handle.executeUpdate(redeemUpdate, {
      args: [{ linkId: claims.jti, user: { userId: user.user_id, email, emailVerified: false, connection: 'Username-Password-Authentication' } }],
    });
    expect(answer).toMatchObject({ inviteId, roles: ['member', 'billing'], data: { leadId: 'L-7', plan: 'team' } });

    const final = await handle.result();
    expect(final.state).toBe('completed');

    const granted = auth0.getUser(user.user_id)!;
    expect(granted.roles.sort()).toEqual(['billing', 'member']);
    expect(granted.email_verified).toBe(true);
    expect(granted.app_metadata).toMatchObject({
      inviteflow: { [scope]: { inviteId, roles: ['member', 'billing'], data: { leadId: 'L-7', plan: 'team' } } },
    });

    const contact = hubspot.contactByEmail(email)!;
    expect(contact.properties).toMatchObject({
      inviteflow_auth0_user_id: user.user_id,
      inviteflow_invite_id: inviteId,
      inviteflow_invite_status: 'redeemed',
    });
    expect(hubspot.createdCount(email)).toBe(1);

    // Operators find it in the Temporal UI by its search attributes (visibility is eventually consistent).
    const query = `WorkflowId = '${inviteWorkflowId(inviteId)}' AND InviteStatus = 'completed' AND InviteScope = '${scope}'`;
    await expect
      .poll(async () => {
        let found = 0;
        for await (const _ of env.client.workflow.list({ query })) found++;
        return found;
      }, { timeout: 10_000 })
      .toBe(1);
    expect((await handle.query(statusQuery)).emails).toHaveLength(1);
  });
});
