/**
 * Scale: many pending invites asleep on their reminder and expiry timers, on the production shape
 * (the Temporal server on PostgreSQL with SQL visibility, `scripts/cluster.ts`). For each worker
 * setting it fills the cluster with pending invites and reads:
 * - the worker process's memory as invites accumulate (it grows until the sticky cache is full,
 *   then stays flat: a sleeping workflow evicted from the cache costs the worker nothing);
 * - creation throughput (starts per second while filling, and until every first email was sent);
 * - redemption throughput at that size, through `POST /v1/redemptions` as the Action calls it,
 *   on invites spread over the whole set (most of them evicted from the cache, so replayed);
 * - claim lookups (`POST /v1/claims`: a visibility search by email, then the claim update);
 * - `GET /v1/invites?status=pending` against the same visibility query made raw.
 *
 *   npm run bench:scale [-- --invites 20000 --settings both --temporal cluster --concurrency 32
 *                          --redemptions 400 --claims 100 --list-calls 50]
 *
 * `--settings both` (default) runs the SDK's default sticky cache (sized from the heap limit,
 * what the product ran before it chose its own) and then the product's defaults, each on a fresh
 * cluster, and compares them: the product's worker should need at most a third of the memory with
 * throughput within 5 %. `--temporal dev` runs on the CLI dev server instead.
 *
 * Invites are started through the client in parallel (the same start path as the API and the
 * CLI's bulk import: `client/invites.ts`, search attributes included), not through HTTP: the
 * creation path is `bench:create`'s subject. The email activity answers at once (SMTP is
 * `bench:email-latency`'s subject and would only slow the filling); every other activity is real,
 * against the emulators.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { emailSearchKey } from '../client/codec';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../client/invites';
import { visibilityQuery } from '../client/invite-search';
import { TASK_QUEUE } from '../workflows/messages';
import { locateServer } from '../scripts/temporal-bin.mjs';
import { flags, int, measuring, pool, printHeader, printLoadAfter, ratioLine, summary, table, until } from './support/report';
import { startBenchStack } from './support/stack';
import type { BenchStack } from './support/stack';
import type { WorkerStats } from './support/worker-host';

/** One invite in this many opts in to claims by verified email (the claim lookups' subjects). */
const CLAIM_EVERY = 20;
const startedAt = performance.now();
const args = flags({
  invites: 20000,
  settings: 'both',
  temporal: 'cluster',
  concurrency: 32,
  redemptions: 400,
  claims: 100,
  'list-calls': 50,
});
const total = int(args.invites, 'invites');
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const redemptions = Math.min(int(args.redemptions, 'redemptions'), Math.floor(total / 2));
const claims = Math.min(int(args.claims, 'claims'), Math.floor(total / CLAIM_EVERY));
const listCalls = int(args['list-calls'], 'list-calls');
const temporal = args.temporal === 'dev' ? 'dev' : 'cluster';
const settingsList: ('sdk-default' | 'product')[] =
  args.settings === 'both' ? ['sdk-default', 'product'] : [args.settings === 'sdk-default' ? 'sdk-default' : 'product'];
printHeader('bench:scale — pending invites on timers: worker memory, throughput, lookups', {
  invites: total,
  settings: settingsList.join(' then '),
  temporal,
  concurrency,
  redemptions,
  claims,
  listCalls,
}, temporal === 'cluster' ? `Temporal server ${locateServer()?.version ?? '(not provisioned)'} on PostgreSQL (scripts/cluster.ts)` : undefined);


const mib = (bytes: number) => bytes / 2 ** 20;

interface Result {
  settings: string;
  temporal: string;
  maxCachedWorkflows: number;
  rows: { invites: number; seconds: number; stats: WorkerStats }[];
  /** Starts per second over the fill (client starts answered). */
  startsPerSecond: number;
  /** Invites per second until every first email was sent. */
  settledPerSecond: number;
  redemptionsPerSecond: number;
  redemptionMs: number[];
  claimMs: number[];
  claimsPerSecond: number;
  listApiMs: number[];
  listRawMs: number[];
  after: WorkerStats;
  /** 503s answered to redemptions and claims (each tried again). */
  unavailable: number;
}

async function run(settings: 'sdk-default' | 'product'): Promise<Result> {
  const stack = await startBenchStack({ email: 'fake', baseline: false, temporal, workerSettings: settings, recordLinks: true });
  try {
    return await measure(stack, settings);
  } finally {
    await stack.close();
  }
}

async function measure(stack: BenchStack, settings: string): Promise<Result> {
  const tag = randomBytes(3).toString('hex');
  const starter = createInviteStarter(stack.client, TASK_QUEUE, emailSearchKey(stack.apiConfig));
  const emailOf = (i: number) => `scale.${tag}.${i}@example.com`;
  const inviteIds: string[] = new Array<string>(total);
  console.log(`\n## ${settings}: ${stack.temporal}, sticky cache ${stack.maxCachedWorkflows} workflows`);

  // Readings before the cache fills, just after it has, and on past it to the end.
  const cacheFull = Math.ceil(stack.maxCachedWorkflows * 1.1);
  const wanted = [100, 1000, cacheFull, 2 * cacheFull, 4 * cacheFull, Math.floor(total / 2), total].filter((n) => n <= total).sort((a, b) => a - b);
  const checkpoints = wanted.filter((n, k) => k === wanted.length - 1 || wanted[k + 1]! > n * 1.05);
  const rows: Result['rows'] = [];
  let started = 0;
  let startSeconds = 0;
  let fillSeconds = 0;
  measuring();
  for (const checkpoint of checkpoints) {
    const from = started;
    const t0 = performance.now();
    await pool(checkpoint - from, concurrency, async (k) => {
      const i = from + k;
      const { input, invite } = prepareInvite(stack.apiConfig.INVITE_ID_KEY, {
        email: emailOf(i),
        roles: ['member'],
        data: { leadId: `L-${i}`, plan: 'pro' },
        ...(i % CLAIM_EVERY === 0 ? { claimByVerifiedEmail: true } : {}),
      });
      inviteIds[i] = invite.inviteId;
      await starter(input, inviteStartMeta(invite));
    });
    startSeconds += (performance.now() - t0) / 1000;
    started = checkpoint;
    // Settled: every invite has sent its email and gone to sleep on its timers.
    await until(async () => (await stack.workerStats(false)).emailsSent >= checkpoint, `${checkpoint} invite emails`, 3_600_000, 250);
    fillSeconds += (performance.now() - t0) / 1000;
    await sleep(2000);
    const stats = await stack.workerStats(true);
    rows.push({ invites: checkpoint, seconds: fillSeconds, stats });
    console.log(
      `  ${checkpoint} invites after ${fillSeconds.toFixed(0)} s: rss ${mib(stats.rssBytes).toFixed(0)} MiB, main heap ${mib(stats.heapUsedBytes).toFixed(0)} MiB, workflow heap ${mib(stats.workflowHeapUsedBytes).toFixed(0)} MiB, cached ${stats.cachedWorkflows}`,
    );
  }

  const query = visibilityQuery({ status: 'pending' });
  await until(async () => (await stack.client.workflow.count(query)).count >= total, 'visibility to show every pending invite', 600_000, 500);

  // Lists: through the API and raw, interleaved.
  const listApiMs: number[] = [];
  const listRawMs: number[] = [];
  const viaApi = async () => {
    const t0 = performance.now();
    const res = await fetch(`${stack.apiUrl}/v1/invites?status=pending`, { headers: { authorization: `Bearer ${stack.funnelToken}` } });
    const body = (await res.json()) as { items: unknown[] };
    const ms = performance.now() - t0;
    if (res.status !== 200 || body.items.length !== Math.min(20, total)) throw new Error(`GET /v1/invites answered ${res.status}`);
    return ms;
  };
  const raw = async () => {
    const t0 = performance.now();
    const page = await stack.client.workflowService.listWorkflowExecutions({ namespace: stack.client.options.namespace, query, pageSize: 20 });
    const ms = performance.now() - t0;
    if ((page.executions ?? []).length !== Math.min(20, total)) throw new Error('listWorkflowExecutions came back short');
    return ms;
  };
  for (let i = 0; i < 5; i++) await Promise.all([viaApi(), raw()]);
  for (let i = 0; i < listCalls; i++) {
    if (i % 2 === 0) {
      listRawMs.push(await raw());
      listApiMs.push(await viaApi());
    } else {
      listApiMs.push(await viaApi());
      listRawMs.push(await raw());
    }
  }

  // As the Action's caller would: a 503 (the API's deadline on Temporal passed) is counted and
  // tried again after its Retry-After, and the time spent waiting counts against throughput.
  let unavailable = 0;
  const postRetrying = async (path: string, userId: string, body: unknown): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await stack.actionToken(userId)}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 503 || attempt === 5) return res;
      unavailable++;
      await res.arrayBuffer();
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  };

  // Redemptions spread over the whole set, each with its Auth0 account made beforehand.
  const step = Math.floor(total / redemptions);
  const picked = Array.from({ length: redemptions }, (_, k) => k * step + 1).filter((i) => i % CLAIM_EVERY !== 0);
  const accounts = new Map<number, string>();
  await pool(picked.length, 8, async (k) => {
    const i = picked[k]!;
    const account = await stack.auth0.createUser({ email: emailOf(i), email_verified: true, connection: 'Username-Password-Authentication' });
    accounts.set(i, account.user_id);
  });
  const redeemed = await pool(picked.length, 8, async (k) => {
    const i = picked[k]!;
    const link = stack.links.get(inviteIds[i]!);
    if (!link) throw new Error(`no link was sent for invite ${i}`);
    const token = await stack.signer.mint({ inviteId: inviteIds[i]!, jti: link.linkId, expiresAt: link.expiresAt });
    const userId = accounts.get(i)!;
    const res = await postRetrying('/v1/redemptions', userId, { token, user: { id: userId, email: emailOf(i), email_verified: true, connection: 'Username-Password-Authentication' } });
    if (res.status !== 200) throw new Error(`POST /v1/redemptions answered ${res.status}: ${await res.text()}`);
  });

  // Claim lookups: accounts with the verified address of an opted-in invite, no link.
  const claimers = Array.from({ length: claims }, (_, k) => Math.floor((k * total) / claims / CLAIM_EVERY) * CLAIM_EVERY);
  const claimAccounts: string[] = [];
  await pool(claimers.length, 8, async (k) => {
    const account = await stack.auth0.createUser({ email: emailOf(claimers[k]!), email_verified: true, connection: 'Username-Password-Authentication' });
    claimAccounts[k] = account.user_id;
  });
  const claimed = await pool(claimers.length, 4, async (k) => {
    const userId = claimAccounts[k]!;
    const res = await postRetrying('/v1/claims', userId, { user: { id: userId, email: emailOf(claimers[k]!), email_verified: true, connection: 'Username-Password-Authentication' } });
    const body = (await res.json()) as { claimed?: boolean; inviteId?: string };
    if (res.status !== 200 || body.claimed !== true || body.inviteId !== inviteIds[claimers[k]!]) throw new Error(`POST /v1/claims answered ${res.status}: ${JSON.stringify(body)}`);
  });
  await sleep(2000);
  const after = await stack.workerStats(true);
  console.log(`  after ${picked.length} redemptions and ${claimers.length} claims: rss ${mib(after.rssBytes).toFixed(0)} MiB, cached ${after.cachedWorkflows}`);
  return {
    settings,
    temporal: stack.temporal,
    maxCachedWorkflows: stack.maxCachedWorkflows,
    rows,
    startsPerSecond: total / startSeconds,
    settledPerSecond: total / fillSeconds,
    redemptionsPerSecond: picked.length / (redeemed.wallMs / 1000),
    redemptionMs: redeemed.latencies,
    claimMs: claimed.latencies,
    claimsPerSecond: claimers.length / (claimed.wallMs / 1000),
    listApiMs,
    listRawMs,
    after,
    unavailable,
  };
}

const results: Result[] = [];
for (const settings of settingsList) results.push(await run(settings));

for (const r of results) {
  console.log(`\n${r.settings} (sticky cache ${r.maxCachedWorkflows}), ${r.temporal}`);
  table(
    r.rows.map((row) => ({
      'pending invites': row.invites,
      'fill s': row.seconds,
      'cached workflows': row.stats.cachedWorkflows,
      'worker RSS MiB': mib(row.stats.rssBytes),
      'workflow heap MiB': mib(row.stats.workflowHeapUsedBytes),
      'main heap MiB': mib(row.stats.heapUsedBytes),
    })),
  );
}
const peakRss = (r: Result) => Math.max(...r.rows.map((row) => row.stats.rssBytes), r.after.rssBytes);
console.log(`\nat ${total} pending invites`);
table(
  results.map((r) => ({
    settings: `${r.settings} (cache ${r.maxCachedWorkflows})`,
    'peak RSS MiB': mib(peakRss(r)),
    'starts/s': r.startsPerSecond,
    'settled/s': r.settledPerSecond,
    'redeem/s': r.redemptionsPerSecond,
    'redeem p99 ms': summary(r.redemptionMs).p99,
    'claim p99 ms': summary(r.claimMs).p99,
    'claims/s': r.claimsPerSecond,
    '503s retried': r.unavailable,
    'GET list p99 ms': summary(r.listApiMs).p99,
    'raw list p99 ms': summary(r.listRawMs).p99,
  })),
);
printLoadAfter(startedAt);

const product = results.find((r) => r.settings === 'product');
const before = results.find((r) => r.settings === 'sdk-default');
if (product && before) {
  const rss = peakRss(product) / peakRss(before);
  const starts = product.startsPerSecond / before.startsPerSecond;
  const redeem = product.redemptionsPerSecond / before.redemptionsPerSecond;
  ratioLine(
    'scale',
    'product/SDK-default worker peak RSS',
    rss,
    'RSS ≤ 0.33 with starts/s and redemptions/s ≥ 0.95 of the SDK default',
    rss <= 1 / 3 && starts >= 0.95 && redeem >= 0.95,
    `${mib(peakRss(product)).toFixed(0)} vs ${mib(peakRss(before)).toFixed(0)} MiB at ${total} pending; starts/s ×${starts.toFixed(2)}, redemptions/s ×${redeem.toFixed(2)}, claim p99 ${summary(product.claimMs).p99.toFixed(0)} ms, GET list p99 ${summary(product.listApiMs).p99.toFixed(0)} ms`,
  );
} else {
  const r = results[0]!;
  const ours = summary(r.listApiMs).p99;
  ratioLine('scale', 'inviteflow/baseline list p99', ours / summary(r.listRawMs).p99, 'GET p99 < 200 ms', ours < 200, `peak RSS ${mib(peakRss(r)).toFixed(0)} MiB at ${total} pending`);
}
