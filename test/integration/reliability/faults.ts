/**
 * The fault run (`npm run test:faults`): invites on the Temporal dev server with the worker as a
 * child process (`worker/main.ts`, configured by its environment, payload encryption on), the
 * real SMTP catcher and the Auth0 and HubSpot emulators. Invites are redeemed as their emails
 * arrive while the worker is SIGKILLed at seeded random moments and restarted; then Auth0 and
 * HubSpot answer half their calls with 429 and bursts of 5xx; then the SMTP server is down for a
 * while. Every invite must complete, with its grant made once and no contact duplicated.
 *
 * `runFaultRun` is also what the small always-on version in `faults.test.ts` calls.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startAuth0Emulator } from '../../../emulators/auth0';
import type { Auth0Emulator } from '../../../emulators/auth0';
import { startHubSpotEmulator } from '../../../emulators/hubspot';
import type { HubSpotEmulator } from '../../../emulators/hubspot';
import { startMailCatcher } from '../../../emulators/mail';
import type { MailCatcher, ParsedMessage } from '../../../emulators/mail';
import { deriveInviteId } from '../../../client/invite-id';
import { temporalDataConverter } from '../../../client/connection';
import { createLinkVerifier, generateLinkKey } from '../../../lib/token';
import { InviteErrorType } from '../../../workflows/errors';
import { inviteWorkflowId, redeemUpdate } from '../../../workflows/messages';
import type { InviteStatus } from '../../../workflows/messages';
import type { inviteWorkflow } from '../../../workflows/invite';
import { devServerEnv } from '../../support/temporal';
import { ServiceProcess } from '../../support/service-process';

const PUBLIC_BASE_URL = 'http://localhost:3998';
const SCOPE = 'workspace:faults';
const ROLE = 'member';

/** How big and how rough the run is. */
export interface FaultRunOptions {
  /** Invites of the kill phase (default 200). */
  invites: number;
  /** SIGKILLs of the worker during the kill phase. */
  kills: number;
  /** Invites of the 429/5xx phase and of the SMTP-outage phase each. */
  phaseInvites: number;
  /** Seed of every random choice (kill moments). */
  seed: number;
  /** How long the SMTP server stays down, ms. */
  smtpDownMs: number;
  /** Gives up (and fails) after this long, ms. */
  deadlineMs: number;
  log: (line: string) => void;
}

/** What happened, for the final summary and the assertions. */
export interface FaultRunSummary {
  invites: number;
  completed: number;
  kills: number;
  workerStarts: number;
  faults: { auth0Rules: number; hubspotRules: number; bursts5xx: number; auth0Requests: number; hubspotRequests: number; smtpDownMs: number };
  badInputsTried: number;
  badInputsRefused: number;
  emails: number;
  duplicateEmails: number;
  /**
   * Duplicates no worker kill explains. Email is sent at least once: a worker killed after the
   * SMTP server accepted a message but before the activity's completion reached Temporal sends it
   * again on the retry. Such a copy's first arrival lies just before a kill; any other duplicate is
   * a bug (a retry racing a send still in flight, a replayed command).
   */
  unexplainedDuplicates: string[];
  /** Invites that never completed. */
  lost: string[];
  /** Emails whose HubSpot contact was created more than once. */
  duplicateContacts: string[];
  /** Invites whose Auth0 user does not hold exactly the granted role and the invite's record. */
  wrongGrants: string[];
  /** People under the account policy `link` (an older password account, accepting with Google). */
  linkedPeople: number;
  /** Of them, invites after which Auth0 did not hold one user with both identities. */
  halfLinked: string[];
  seconds: number;
}

/** Default options of the full run. */
export const FULL_RUN: FaultRunOptions = {
  invites: 200,
  kills: 8,
  phaseInvites: 50,
  seed: 20260101,
  smtpDownMs: 4000,
  deadlineMs: 6 * 60_000,
  log: (line) => console.log(line),
};

// mulberry32: small, seedable, good enough to pick kill moments reproducibly.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How long before a kill (or after it, for the catcher's own parsing) a message's first copy may arrive and still be explained by it. */
const KILL_WINDOW_BEFORE_MS = 2000;
const KILL_WINDOW_AFTER_MS = 1000;

/** Runs the three phases and returns what happened; never throws on a broken invariant. */
export async function runFaultRun(opts: FaultRunOptions): Promise<FaultRunSummary> {
  const began = Date.now();
  const rand = random(opts.seed);
  const deadline = began + opts.deadlineMs;
  let env: TestWorkflowEnvironment | undefined;
  let auth0: Auth0Emulator | undefined;
  let hubspot: HubSpotEmulator | undefined;
  let mail: MailCatcher | undefined;
  let worker: ServiceProcess | undefined;
  try {
    [env, auth0, hubspot, mail] = await Promise.all([
      devServerEnv(),
      startAuth0Emulator(),
      startHubSpotEmulator(),
      startMailCatcher({ smtpPort: 0, httpPort: 0, maxMessages: 100_000 }),
    ]);
    auth0.createRole(ROLE);
    const key = await generateLinkKey('faults');
    const payloadKeys = [{ id: 'faults', key: randomBytes(32).toString('base64') }];
    const taskQueue = `faults-${randomBytes(4).toString('hex')}`;
    worker = new ServiceProcess('worker/main.ts', 'worker started', {
      PATH: process.env.PATH ?? '',
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      PAYLOAD_KEYS: JSON.stringify(payloadKeys),
      PUBLIC_BASE_URL,
      LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
      SMTP_URL: mail.smtpUrl,
      AUTH0_DOMAIN: auth0.domain,
      AUTH0_CLIENT_ID: 'inviteflow-m2m',
      AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
      AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
      HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
      HUBSPOT_BASE_PATH: hubspot.url,
      // These emulators enforce no rate limit: the faults are injected 429s and 5xx, met by the
      // retry policies. Pacing to the real limits is tested in test/activities/paced.test.ts and
      // measured by bench:throttle; here it would only stretch 300 grants to 10 minutes.
      AUTH0_MGMT_RATE_LIMIT: '0',
      HUBSPOT_RATE_LIMIT: '0',
      LOG_LEVEL: 'info',
    });
    await worker.start();

    const client = new Client({ connection: env.connection, dataConverter: temporalDataConverter({ PAYLOAD_KEYS: payloadKeys }) });
    const verifier = createLinkVerifier({ verificationKeys: [key.publicJwk], issuer: PUBLIC_BASE_URL, audience: 'inviteflow-link' });
    const idKey = randomBytes(24).toString('base64url');

    interface Tracked {
      inviteId: string;
      email: string;
      handle: WorkflowHandle<typeof inviteWorkflow>;
      userId?: string;
      /** Account policy `link`: the person's older, verified password account, which must end up holding the grant. */
      primaryId?: string;
      redeeming?: Promise<void>;
      result?: Promise<InviteStatus | Error>;
    }
    const invites = new Map<string, Tracked>();
    const seen = new Set<string>();
    const byMessageId = new Map<string, number>();
    const firstArrival = new Map<string, number>();
    let badTried = 0;
    let badRefused = 0;

    const start = async (count: number, phase: string) => {
      const batch: Tracked[] = [];
      for (let i = 0; i < count; i++) {
        const email = `${phase}.${i}.${randomBytes(3).toString('hex')}@example.com`;
        const inviteId = deriveInviteId(idKey, email, SCOPE);
        // Every third person already has a verified password account and accepts with Google: the
        // accounts are linked (lookup, link, grant to the primary) while workers die.
        const linked = i % 3 === 0;
        const primaryId = linked ? auth0!.createUser({ email, email_verified: true, password: `pw-${randomBytes(8).toString('hex')}` }).user_id : undefined;
        const handle = await client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
          taskQueue,
          workflowId: inviteWorkflowId(inviteId),
          args: [{ inviteId, email, roles: [ROLE], data: { phase, n: i }, scope: SCOPE, locale: 'en', ...(linked ? { accountPolicy: 'link' as const } : {}) }],
        });
        const t: Tracked = { inviteId, email, handle, ...(primaryId ? { primaryId } : {}) };
        invites.set(inviteId, t);
        batch.push(t);
      }
      return batch;
    };

    // Redeems an invite the first time one of its emails arrives; a refused attempt with a link
    // the invite never issued goes first, and must change nothing.
    const redeem = async (t: Tracked, linkId: string) => {
      const connection = t.primaryId ? 'google-oauth2' : 'Username-Password-Authentication';
      const user = t.primaryId
        ? auth0!.socialUser('google-oauth2', { email: t.email })
        : auth0!.createUser({ email: t.email, email_verified: true, connection });
      t.userId = user.user_id;
      const account = { userId: user.user_id, email: t.email, emailVerified: true, connection };
      for (;;) {
        try {
          badTried++;
          await t.handle.executeUpdate(redeemUpdate, { args: [{ linkId: `forged-${linkId}`, user: account }] });
          break;
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError && (err.cause as { type?: string } | undefined)?.type === InviteErrorType.UnknownLink) {
            badRefused++;
            break;
          }
          badTried--;
          await sleep(300); // the worker is down; the update is tried again once it is back
        }
      }
      for (;;) {
        try {
          await t.handle.executeUpdate(redeemUpdate, { args: [{ linkId, user: account }] });
          break;
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) throw err;
          await sleep(300);
        }
      }
      t.result = t.handle.result().catch((e: unknown) => e as Error);
    };

    const pumpMail = () => {
      for (const m of mail!.messages()) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const messageId = m.headers['message-id'] ?? m.id;
        byMessageId.set(messageId, (byMessageId.get(messageId) ?? 0) + 1);
        if (!firstArrival.has(messageId)) firstArrival.set(messageId, Date.parse(m.receivedAt));
        void onMessage(m);
      }
    };
    const onMessage = async (m: ParsedMessage) => {
      const token = /\/i\/([A-Za-z0-9_.-]+)/.exec(m.text)?.[1];
      if (!token) return;
      const claims = await verifier.verify(token);
      const t = invites.get(claims.inviteId);
      if (!t || t.redeeming) return;
      t.redeeming = redeem(t, claims.jti);
    };

    const settle = async (batch: Tracked[], phase: string) => {
      while (batch.some((t) => !t.result)) {
        if (Date.now() > deadline) throw new Error(`deadline passed in phase ${phase}: ${batch.filter((t) => !t.result).length} invites not redeemed`);
        pumpMail();
        await sleep(150);
      }
      await Promise.all(batch.map((t) => t.redeeming ?? Promise.resolve()));
      const remaining = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(batch.map((t) => t.result ?? Promise.resolve(undefined))),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`deadline passed in phase ${phase}`)), remaining))),
      ]).finally(() => clearTimeout(timer));
      opts.log(`phase ${phase}: ${batch.length} invites settled after ${Math.round((Date.now() - began) / 1000)} s`);
    };

    // Phase 1: kills.
    let kills = 0;
    const chaos = (async () => {
      while (kills < opts.kills) {
        await sleep(500 + rand() * 1500);
        await worker.kill();
        kills++;
        await worker.start();
      }
    })();
    const phase1 = await start(opts.invites, 'kill');
    await settle(phase1, 'kill');
    await chaos;

    // Phase 2: half of Auth0's and HubSpot's answers are 429 with Retry-After, plus 5xx bursts.
    const auth0Before = total(auth0.counts);
    const hubspotBefore = total(hubspot.counts);
    auth0.injectFault({ route: '/api/v2/', status: 429, probability: 0.5, retryAfterSeconds: 1 });
    hubspot.injectFault({ route: 'contacts', status: 429, probability: 0.5, retryAfterSeconds: 1 });
    let bursts = 0;
    let burstsOn = true;
    const burster = (async () => {
      while (burstsOn) {
        auth0.injectFault({ route: '/api/v2/', status: 503, count: 5 });
        hubspot.injectFault({ route: 'contacts', status: 502, count: 5 });
        bursts += 2;
        await sleep(1000);
      }
    })();
    const phase2 = await start(opts.phaseInvites, 'rate');
    await settle(phase2, '429/5xx');
    burstsOn = false;
    await burster;
    auth0.clearFaults();
    hubspot.clearFaults();
    const auth0Requests = total(auth0.counts) - auth0Before;
    const hubspotRequests = total(hubspot.counts) - hubspotBefore;

    // Phase 3: the SMTP server is down while invites start; they must all be emailed afterwards.
    mail.setDown(true);
    const phase3 = await start(opts.phaseInvites, 'smtp');
    await sleep(opts.smtpDownMs);
    mail.setDown(false);
    await settle(phase3, 'smtp-down');

    // Invariants.
    const all = [...invites.values()];
    const lost: string[] = [];
    const wrongGrants: string[] = [];
    const duplicateContacts: string[] = [];
    const halfLinked: string[] = [];
    for (const t of all) {
      const result = await t.result;
      if (!result || result instanceof Error || result.state !== 'completed') lost.push(t.inviteId);
      if (t.primaryId) {
        // One user with both identities, the Google one no longer a user of its own.
        const primary = auth0.getUser(t.primaryId);
        const identities = primary?.identities.map((i) => `${i.provider}|${i.user_id}`) ?? [];
        if (!t.userId || !identities.includes(t.userId) || auth0.getUser(t.userId) !== undefined) halfLinked.push(t.inviteId);
      }
      const holder = t.primaryId ?? t.userId;
      const user = holder ? auth0.getUser(holder) : undefined;
      const record = (user?.app_metadata as { inviteflow?: Record<string, { inviteId?: string }> } | undefined)?.inviteflow?.[SCOPE];
      if (!user || JSON.stringify(user.roles) !== JSON.stringify([ROLE]) || record?.inviteId !== t.inviteId) wrongGrants.push(t.inviteId);
      if (hubspot.createdCount(t.email) !== 1) duplicateContacts.push(t.email);
    }
    const emails = [...byMessageId.values()].reduce((a, b) => a + b, 0);
    const duplicateEmails = [...byMessageId.values()].reduce((a, n) => a + (n - 1), 0);
    const killedAt = worker.killedAt;
    const unexplainedDuplicates = [...byMessageId]
      .filter(([, n]) => n > 1)
      .map(([messageId]) => messageId)
      .filter((messageId) => {
        const first = firstArrival.get(messageId)!;
        return !killedAt.some((k) => first >= k - KILL_WINDOW_BEFORE_MS && first <= k + KILL_WINDOW_AFTER_MS);
      });
    return {
      invites: all.length,
      completed: all.length - lost.length,
      kills,
      workerStarts: worker.starts,
      faults: { auth0Rules: 1, hubspotRules: 1, bursts5xx: bursts, auth0Requests, hubspotRequests, smtpDownMs: opts.smtpDownMs },
      badInputsTried: badTried,
      badInputsRefused: badRefused,
      emails,
      duplicateEmails,
      unexplainedDuplicates,
      lost,
      duplicateContacts,
      wrongGrants,
      linkedPeople: all.filter((t) => t.primaryId).length,
      halfLinked,
      seconds: Math.round((Date.now() - began) / 1000),
    };
  } finally {
    await worker?.kill();
    await Promise.all([env?.teardown(), auth0?.close(), hubspot?.close(), mail?.close()]);
  }
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** The broken invariants of a run, as readable lines; empty when it passed. */
export function violations(s: FaultRunSummary): string[] {
  const out: string[] = [];
  if (s.completed !== s.invites) out.push(`${s.invites - s.completed} invites did not complete: ${s.lost.slice(0, 5).join(', ')}`);
  if (s.halfLinked.length) out.push(`${s.halfLinked.length} people not left as one Auth0 user: ${s.halfLinked.slice(0, 5).join(', ')}`);
  if (s.wrongGrants.length) out.push(`${s.wrongGrants.length} wrong Auth0 grants: ${s.wrongGrants.slice(0, 5).join(', ')}`);
  if (s.duplicateContacts.length) out.push(`${s.duplicateContacts.length} duplicated HubSpot contacts`);
  if (s.unexplainedDuplicates.length) {
    out.push(`${s.unexplainedDuplicates.length} duplicate emails no worker kill explains: ${s.unexplainedDuplicates.slice(0, 5).join(', ')}`);
  }
  if (s.badInputsRefused !== s.badInputsTried) out.push(`${s.badInputsTried - s.badInputsRefused} forged redemptions were not refused`);
  return out;
}

/** The summary block printed at the end of a run. */
export function formatSummary(s: FaultRunSummary): string {
  return [
    'fault run summary',
    `  invites: ${s.invites} (completed ${s.completed}, lost ${s.lost.length})`,
    `  worker kills: ${s.kills} (SIGKILL; ${s.workerStarts} worker starts)`,
    `  faults injected: Auth0 and HubSpot 50% 429 with Retry-After, ${s.faults.bursts5xx} bursts of 5 x 5xx; ${s.faults.auth0Requests} Auth0 and ${s.faults.hubspotRequests} HubSpot requests in that phase; SMTP down ${s.faults.smtpDownMs} ms`,
    `  bad inputs tried: ${s.badInputsTried} forged redemptions (${s.badInputsRefused} refused)`,
    `  emails: ${s.emails} received, ${s.duplicateEmails} extra copies; duplicated messages whose first copy was not accepted right before a kill: ${s.unexplainedDuplicates.length}`,
    `  duplicated: HubSpot contacts ${s.duplicateContacts.length}, wrong Auth0 grants ${s.wrongGrants.length}`,
    `  account policy link: ${s.linkedPeople} people with an older password account accepted with Google; not left as one user: ${s.halfLinked.length}`,
    `  time: ${s.seconds} s`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  const opts: FaultRunOptions = {
    ...FULL_RUN,
    invites: n('FAULT_INVITES', FULL_RUN.invites),
    kills: n('FAULT_KILLS', FULL_RUN.kills),
    phaseInvites: n('FAULT_PHASE_INVITES', FULL_RUN.phaseInvites),
    seed: n('FAULT_SEED', FULL_RUN.seed),
  };
  opts.log(`fault run: ${opts.invites} invites, ${opts.kills} kills, seed ${opts.seed}`);
  runFaultRun(opts).then(
    (summary) => {
      console.log(formatSummary(summary));
      const broken = violations(summary);
      for (const line of broken) console.error(`FAILED: ${line}`);
      process.exit(broken.length ? 1 : 0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
