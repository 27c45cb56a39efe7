/**
 * Throttling: redemptions against Auth0 and HubSpot at their real limits (Auth0's free-tier
 * Management API limit of 2 requests per second, as the emulator models it: a token bucket of 2;
 * HubSpot's rolling 100 requests per 10 s). Every redeemed invite must complete (a 429 may only
 * ever delay a grant, never fail it), with as few 429s as possible: the script counts what the
 * emulators answered, through counting proxies, and compares it with the minimum.
 *
 *   npm run bench:throttle [-- --redemptions 100 --mode product|reactive|worker-rate --concurrency 16 --wait-seconds <1.5 × minimum + 60> --db file]
 *
 * The default of 100 redemptions keeps the run near five minutes: each redemption needs four
 * Management API calls (find the role, assign it, read and write app_metadata), so Auth0 alone
 * needs at least N × 4 / 2 seconds, 200 s for 100 and 1000 s for 500 (`--redemptions 500`).
 *
 * Modes: `product` (default; `paced` is the same) is the worker as a deployment configures it for
 * these limits: AUTH0_MGMT_RATE_LIMIT, AUTH0_MGMT_RATE_BURST and HUBSPOT_RATE_LIMIT set to what the
 * emulators enforce, so its client-side pacing (`activities/outbound-pacer.ts`) keeps under them. `reactive`
 * turns that pacing off (both set to 0): calls go out and a 429 becomes a retry after the
 * service's delay. `worker-rate`, also without pacing, sets the SDK's `maxActivitiesPerSecond` on
 * the worker instead (every activity type).
 * Invites are started through the client with a no-op email activity (the email path is
 * measured elsewhere); redemptions go through `POST /v1/redemptions` as the Action calls it.
 */
import { randomBytes } from 'node:crypto';
import { emailSearchKey } from '../client/codec';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../client/invites';
import { inviteWorkflowId, statusQuery, TASK_QUEUE } from '../workflows/messages';
import type { InviteStatus } from '../workflows/messages';
import {
  flags,
  int,
  measuring,
  pool,
  printHeader,
  printLoadAfter,
  ratioLine,
  summary,
  table,
  until,
} from './support/report';
import { startBenchStack } from './support/stack';
import type { StatusCounts } from './support/stack';

const startedAt = performance.now();
const args = flags({
  redemptions: 100,
  mode: 'product',
  concurrency: 16,
  'auth0-rps': 2,
  'auth0-burst': '',
  'activities-per-second': 1,
  // Seconds to wait for the grants after the last redemption; default 1.5 × the minimum + 60 s.
  'wait-seconds': '',
  db: 'file',
});
const total = Math.max(1, int(args.redemptions, 'redemptions'));
const mode =
  args.mode === 'reactive' || args.mode === 'worker-rate'
    ? args.mode
    : args.mode === 'product' || args.mode === 'paced'
      ? 'product'
      : (() => {
          throw new Error(`--mode must be product, reactive or worker-rate, not ${args.mode}`);
        })();
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const auth0Rps = Number(args['auth0-rps']);
// The emulator's default bucket: max(1, floor(rate)), i.e. 2 at 2 per second.
const auth0Burst =
  args['auth0-burst'] === '' ? Math.max(1, Math.floor(auth0Rps)) : int(args['auth0-burst'], 'auth0-burst');
const hubspotLimit = { max: 100, intervalMs: 10_000 };
const activitiesPerSecond = Number(args['activities-per-second']);
const db = args.db === 'memory' ? 'memory' : 'file';
printHeader('bench:throttle — redemptions at the real Auth0 and HubSpot rate limits', {
  redemptions: total,
  mode,
  concurrency,
  auth0: `${auth0Rps}/s burst ${auth0Burst}`,
  hubspot: `${hubspotLimit.max}/${hubspotLimit.intervalMs / 1000} s rolling`,
  'worker pacing':
    mode === 'product'
      ? `AUTH0_MGMT_RATE_LIMIT=${auth0Rps} AUTH0_MGMT_RATE_BURST=${auth0Burst} HUBSPOT_RATE_LIMIT=${hubspotLimit.max}/${hubspotLimit.intervalMs}ms`
      : 'off (AUTH0_MGMT_RATE_LIMIT=0 HUBSPOT_RATE_LIMIT=0)',
  ...(mode === 'worker-rate' ? { maxActivitiesPerSecond: activitiesPerSecond } : {}),
  db,
});

const stack = await startBenchStack({
  email: 'fake',
  baseline: false,
  db,
  countStatuses: true,
  auth0RateLimit: { perSecond: auth0Rps, burst: auth0Burst },
  hubspotRateLimit: hubspotLimit,
  // The worker's pacing follows the emulators' limits (as a deployment sets it to its plan's).
  pacing: mode === 'product',
  ...(mode === 'worker-rate' ? { maxActivitiesPerSecond: activitiesPerSecond } : {}),
});
const tag = randomBytes(3).toString('hex');
const ROLES = ['member'];
// Per redemption of a verified account with one role: GET /roles, POST /users/:id/roles,
// GET /users/:id, PATCH /users/:id; and one HubSpot batch upsert. (The invite's own upsert at
// creation is done in the set-up, before the counts start.)
const AUTH0_CALLS_PER_REDEMPTION = 2 + ROLES.length * 1 + 1;
const HUBSPOT_CALLS_PER_REDEMPTION = 1;

try {
  console.log(`set-up: ${total} invites and Auth0 accounts…`);
  const starter = createInviteStarter(stack.client, TASK_QUEUE, emailSearchKey(stack.apiConfig));
  const prepared: {
    token: string;
    inviteId: string;
    user: { id: string; email: string; email_verified: boolean; connection: string };
  }[] = [];
  await pool(total, 16, async (i) => {
    const email = `throttle.${tag}.${i}@example.com`;
    const { input, invite } = prepareInvite(stack.apiConfig.INVITE_ID_KEY, {
      email,
      roles: ROLES,
      data: { leadId: `L-${i}` },
    });
    await starter(input, inviteStartMeta(invite));
    // Created directly in the emulator: sign-ups do not spend the Management API limit.
    const account = await stack.auth0.createUser({
      email,
      email_verified: true,
      // No password: the emulator would hash it with scrypt, about 80 ms of CPU per account.
      connection: 'Username-Password-Authentication',
    });
    const { linkId, expiresAt } = await stack.firstLink(invite.inviteId);
    // The contact upserted at creation: done before the counted phase, which is about redemptions.
    const run = stack.client.workflow.getHandle(inviteWorkflowId(invite.inviteId));
    while ((await run.query(statusQuery)).contactId === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    prepared[i] = {
      token: await stack.signer.mint({ inviteId: invite.inviteId, jti: linkId, expiresAt }),
      inviteId: invite.inviteId,
      user: {
        id: account.user_id,
        email,
        email_verified: true,
        connection: 'Username-Password-Authentication',
      },
    };
  });
  await stack.resetStatuses();
  measuring();

  console.log(`redeeming ${total} invites, ${concurrency} at a time…`);
  const begin = performance.now();
  const answers = await pool(total, concurrency, async (i) => {
    const p = prepared[i]!;
    const res = await fetch(`${stack.apiUrl}/v1/redemptions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await stack.actionToken(p.user.id)}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ token: p.token, user: p.user }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /v1/redemptions answered ${res.status}: ${text}`);
  });
  const redeemedSeconds = (performance.now() - begin) / 1000;

  const auth0Min = total * AUTH0_CALLS_PER_REDEMPTION;
  const hubspotMin = total * HUBSPOT_CALLS_PER_REDEMPTION;
  const minSeconds = Math.max(
    (auth0Min - auth0Burst) / auth0Rps,
    ((hubspotMin - hubspotLimit.max) / hubspotLimit.max) * (hubspotLimit.intervalMs / 1000),
    0,
  );
  const closed = async () => {
    const [completed, failed] = await Promise.all([
      stack.client.workflow.count(`WorkflowType = 'inviteWorkflow' AND InviteStatus = 'completed'`),
      stack.client.workflow.count(`WorkflowType = 'inviteWorkflow' AND InviteStatus = 'failed'`),
    ]);
    return { completed: completed.count, failed: failed.count };
  };
  let last = { completed: 0, failed: 0 };
  let lastPrint = 0;
  await until(
    async () => {
      last = await closed();
      const elapsed = (performance.now() - begin) / 1000;
      if (elapsed - lastPrint >= 30) {
        lastPrint = elapsed;
        const a = (await stack.statuses()).auth0.byStatus;
        console.log(
          `  ${elapsed.toFixed(0)} s: ${last.completed} completed, ${last.failed} failed; Auth0 ${[...a.values()].reduce((x, y) => x + y, 0)} requests, ${a.get(429) ?? 0} × 429`,
        );
      }
      return last.completed + last.failed >= total;
    },
    'every redeemed invite to complete',
    (args['wait-seconds'] === '' ? minSeconds * 1.5 + 60 : int(args['wait-seconds'], 'wait-seconds')) * 1000,
    1000,
  ).catch((err: unknown) => console.log(`  ${(err as Error).message}`));
  const allSeconds = (performance.now() - begin) / 1000;

  // How long each grant took after its redemption answered.
  const grants: number[] = [];
  await pool(total, 16, async (i) => {
    const status: InviteStatus = await stack.client.workflow
      .getHandle(inviteWorkflowId(prepared[i]!.inviteId))
      .query(statusQuery);
    if (status.completedAt && status.redeemedAt)
      grants.push((Date.parse(status.completedAt) - Date.parse(status.redeemedAt)) / 1000);
  });

  const sum = (m: Map<number, number>, pick: (status: number) => boolean) =>
    [...m].filter(([s]) => pick(s)).reduce((a, [, n]) => a + n, 0);
  const serviceRow = (name: string, counts: StatusCounts, minimum: number, limit: string) => {
    const all = sum(counts.byStatus, () => true);
    const ok = sum(counts.byStatus, (s) => s < 400);
    const throttled = counts.byStatus.get(429) ?? 0;
    return {
      service: name,
      limit,
      'minimum requests': minimum,
      requests: all,
      '2xx': ok,
      '429s': throttled,
      'other errors': all - ok - throttled,
      'requests/minimum': all / minimum,
    };
  };
  const { auth0: auth0Counts, hubspot: hubspotCounts } = await stack.statuses();
  // The token request is not under the Management API limit and happens once per process.
  const tokenRequests = [...auth0Counts.byRoute]
    .filter(([route]) => route.includes('/oauth/token'))
    .reduce((a, [, m]) => a + sum(m, () => true), 0);
  const rows = [
    serviceRow(
      'Auth0 Management API',
      auth0Counts,
      auth0Min + tokenRequests,
      `${auth0Rps}/s, bucket ${auth0Burst}`,
    ),
    serviceRow(
      'HubSpot CRM',
      hubspotCounts,
      hubspotMin,
      `${hubspotLimit.max}/${hubspotLimit.intervalMs / 1000} s`,
    ),
  ];
  table(rows);
  const g = summary(grants);
  table([
    {
      redemptions: total,
      'answered (all 200)': answers.latencies.length,
      'redeem s': redeemedSeconds,
      completed: last.completed,
      failed: last.failed,
      'all closed s': allSeconds,
      'minimum s': minSeconds,
      'grant p50 s': g.p50,
      'grant p99 s': g.p99,
      'grant max s': g.max,
    },
  ]);
  if (mode === 'product') {
    const { localRefusals, rateLimiters } = await stack.workerStats(false);
    console.log(`Refused locally by the pacing (activity retries that sent nothing): ${localRefusals}`);
    for (const [service, s] of Object.entries(rateLimiters))
      console.log(
        `  ${service} pacer: ${s.reserved} send times reserved, ${s.released} handed back unused, ${s.held} sends held for late ones, ${s.refused} refusals, ${s.throttled} × 429 seen`,
      );
  }
  console.log('Per route (status: count):');
  for (const [service, counts] of [
    ['Auth0', auth0Counts],
    ['HubSpot', hubspotCounts],
  ] as const) {
    for (const [route, m] of [...counts.byRoute].sort())
      console.log(`  ${service} ${route}  ${[...m].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  }
  printLoadAfter(startedAt);
  const throttled = rows.reduce((a, r) => a + r['429s'], 0);
  const minimum = auth0Min + hubspotMin;
  const allDone = last.completed === total && last.failed === 0;
  ratioLine(
    'throttle',
    'requests/minimum',
    rows.reduce((a, r) => a + r.requests, 0) / (minimum + tokenRequests),
    `all ${total} completed, none failed, 429s <= 5 % of the ${minimum} minimum requests`,
    allDone && throttled <= 0.05 * minimum,
    `${throttled} × 429 (Auth0 ${rows[0]!['429s']}, HubSpot ${rows[1]!['429s']}); ${last.completed}/${total} completed, ${last.failed} failed; ${allSeconds.toFixed(0)} s vs ${minSeconds.toFixed(0)} s minimum; mode ${mode}`,
  );
} finally {
  await stack.close();
}
