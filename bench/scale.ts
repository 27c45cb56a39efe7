/**
 * Scale: many pending invites asleep on their reminder and expiry timers. Measures the worker
 * process's memory as invites accumulate (it should grow only until the sticky cache is full,
 * then stay flat: a sleeping workflow evicted from the cache costs the worker nothing) and the
 * latency of `GET /v1/invites?status=pending` at that size against the same visibility query
 * made raw with `listWorkflowExecutions`.
 *
 *   npm run bench:scale [-- --invites 5000 --concurrency 32 --email fake --max-cached <SDK default> --list-calls 50 --db file]
 *
 * The default of 5000 fills the SDK's default sticky cache (2310 workflows with Node's default
 * 4 GiB heap limit) twice over in about six minutes on two cores; `--invites 10000` takes twice
 * as long and shows the same plateau.
 *
 * Invites are started through the client in parallel (the same start path as the API and the
 * CLI's bulk import: `client/invites.ts`, search attributes included), not through HTTP: the
 * creation path is `bench:create`'s subject. `--email fake` (default) replaces only the email
 * activity with one that answers at once, because SMTP is `bench:email-latency`'s subject and
 * would only slow the filling; `--email real` sends every email to the catcher.
 */
import { randomBytes } from 'node:crypto';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../client/invites';
import { visibilityQuery } from '../client/invite-search';
import { TASK_QUEUE } from '../workflows/messages';
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
import type { WorkerStats } from './support/worker-host';

const startedAt = performance.now();
const args = flags({
  invites: 5000,
  concurrency: 32,
  email: 'fake',
  'max-cached': '',
  'list-calls': 50,
  db: 'file',
});
const total = int(args.invites, 'invites');
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const email = args.email === 'real' ? 'real' : 'fake';
const maxCached = args['max-cached'] === '' ? undefined : int(args['max-cached'], 'max-cached');
const listCalls = int(args['list-calls'], 'list-calls');
const db = args.db === 'memory' ? 'memory' : 'file';
printHeader('bench:scale — pending invites on timers: worker memory and list latency', {
  invites: total,
  concurrency,
  email: email === 'fake' ? 'fake (no-op email activity)' : 'real SMTP to the catcher',
  maxCachedWorkflows: maxCached ?? 'SDK default',
  listCalls,
  db,
});

const stack = await startBenchStack({
  email,
  baseline: false,
  db,
  mailMaxMessages: email === 'real' ? total + 1000 : 1000,
  ...(maxCached !== undefined ? { maxCachedWorkflows: maxCached } : {}),
});
const tag = randomBytes(3).toString('hex');
const starter = createInviteStarter(stack.client, TASK_QUEUE);
const mib = (bytes: number) => bytes / 2 ** 20;

try {
  console.log(
    `sticky cache: maxCachedWorkflows = ${stack.maxCachedWorkflows}${maxCached === undefined ? ' (SDK default, from the heap limit)' : ''}`,
  );
  // Readings before the cache fills, just after it has, and on past it to the end.
  const cacheFull = Math.ceil(stack.maxCachedWorkflows * 1.1);
  const wanted = [100, 1000, cacheFull, 2 * cacheFull, 4 * cacheFull, total]
    .filter((n) => n <= total)
    .sort((a, b) => a - b);
  const checkpoints = wanted.filter((n, k) => k === wanted.length - 1 || wanted[k + 1]! > n * 1.05);
  const rows: { invites: number; seconds: number; stats: WorkerStats }[] = [];
  let started = 0;
  let fillSeconds = 0;
  measuring();
  for (const checkpoint of checkpoints) {
    const from = started;
    const t0 = performance.now();
    await pool(checkpoint - from, concurrency, async (k) => {
      const i = from + k;
      const { input, invite } = prepareInvite(stack.apiConfig.INVITE_ID_KEY, {
        email: `scale.${tag}.${i}@example.com`,
        roles: ['member'],
        data: { leadId: `L-${i}`, plan: 'pro' },
      });
      await starter(input, inviteStartMeta(invite));
    });
    started = checkpoint;
    // Settled: every invite has sent its email and gone to sleep on its timers.
    await until(
      async () => (await stack.workerStats(false)).emailsSent >= checkpoint,
      `${checkpoint} invite emails`,
      900_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 2000));
    fillSeconds += (performance.now() - t0) / 1000;
    const stats = await stack.workerStats(true);
    rows.push({ invites: checkpoint, seconds: fillSeconds, stats });
    console.log(
      `  ${checkpoint} invites after ${fillSeconds.toFixed(0)} s: rss ${mib(stats.rssBytes).toFixed(0)} MiB, main heap ${mib(stats.heapUsedBytes).toFixed(0)} MiB, workflow heap ${mib(stats.workflowHeapUsedBytes).toFixed(0)} MiB, cached ${stats.cachedWorkflows}`,
    );
  }

  const query = visibilityQuery({ status: 'pending' });
  await until(
    async () => (await stack.client.workflow.count(query)).count >= total,
    'visibility to show every pending invite',
    120_000,
    500,
  );

  const samples = { api: [] as number[], raw: [] as number[] };
  const viaApi = async () => {
    const t0 = performance.now();
    const res = await fetch(`${stack.apiUrl}/v1/invites?status=pending`, {
      headers: { authorization: `Bearer ${stack.funnelToken}` },
    });
    const body = (await res.json()) as { items: unknown[] };
    const ms = performance.now() - t0;
    if (res.status !== 200 || body.items.length !== Math.min(20, total))
      throw new Error(`GET /v1/invites answered ${res.status}`);
    return ms;
  };
  const raw = async () => {
    const t0 = performance.now();
    const page = await stack.client.workflowService.listWorkflowExecutions({
      namespace: stack.client.options.namespace,
      query,
      pageSize: 20,
    });
    const ms = performance.now() - t0;
    if ((page.executions ?? []).length !== Math.min(20, total))
      throw new Error('listWorkflowExecutions came back short');
    return ms;
  };
  for (let i = 0; i < 5; i++) await Promise.all([viaApi(), raw()]);
  for (let i = 0; i < listCalls; i++) {
    if (i % 2 === 0) {
      samples.raw.push(await raw());
      samples.api.push(await viaApi());
    } else {
      samples.api.push(await viaApi());
      samples.raw.push(await raw());
    }
  }

  table(
    rows.map((r) => ({
      'pending invites': r.invites,
      'fill s': r.seconds,
      'invites/s': r.invites / r.seconds,
      'cached workflows': r.stats.cachedWorkflows,
      'worker RSS MiB': mib(r.stats.rssBytes),
      'workflow heap MiB': mib(r.stats.workflowHeapUsedBytes),
      'main heap MiB': mib(r.stats.heapUsedBytes),
      'external MiB': mib(r.stats.externalBytes),
    })),
  );
  const list = (side: string, sample: number[]) => {
    const s = summary(sample);
    return {
      [`list ${total} pending, page of 20`]: side,
      calls: sample.length,
      'p50 ms': s.p50,
      'p90 ms': s.p90,
      'p99 ms': s.p99,
      'max ms': s.max,
    };
  };
  table([
    list('baseline: listWorkflowExecutions (same query)', samples.raw),
    list('inviteflow: GET /v1/invites?status=pending', samples.api),
  ]);

  // Memory verdict: once the cache is full, more sleeping invites must not grow the heap.
  const heap = (r: (typeof rows)[number]) => r.stats.heapUsedBytes + r.stats.workflowHeapUsedBytes;
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const full = rows.find((r) => r.stats.cachedWorkflows >= 0.98 * stack.maxCachedWorkflows);
  const perWorkflowKiB = (r: (typeof rows)[number]) =>
    r.stats.cachedWorkflows > first.stats.cachedWorkflows
      ? (heap(r) - heap(first)) / 1024 / (r.stats.cachedWorkflows - first.stats.cachedWorkflows)
      : 0;
  let flat: boolean;
  let memoryNote: string;
  if (full && full !== last) {
    const growth = heap(last) / heap(full) - 1;
    flat = growth <= 0.15;
    memoryNote = `heap (main + workflow thread) ${mib(heap(full)).toFixed(0)} MiB when the cache filled at ${full.invites} invites, ${mib(heap(last)).toFixed(0)} MiB at ${last.invites} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)} %); ~${perWorkflowKiB(full).toFixed(0)} KiB per cached workflow`;
  } else if (full) {
    flat = true;
    memoryNote = `the cache filled only at the last reading (${last.invites} invites): run more invites (or --max-cached lower) to see the plateau; ~${perWorkflowKiB(last).toFixed(0)} KiB per cached workflow`;
  } else {
    const bound =
      heap(first) + perWorkflowKiB(last) * 1024 * (stack.maxCachedWorkflows - first.stats.cachedWorkflows);
    flat = true;
    memoryNote = `cache not full at ${last.invites} invites (${last.stats.cachedWorkflows}/${stack.maxCachedWorkflows}); ~${perWorkflowKiB(last).toFixed(0)} KiB per cached workflow, so the heap stays under ~${mib(bound).toFixed(0)} MiB however many invites sleep`;
  }
  console.log(
    `memory: ${memoryNote} — ${flat ? 'flat once the cache is full (PASS)' : 'still growing after the cache filled (MISS)'}`,
  );
  printLoadAfter(startedAt);
  const ours = summary(samples.api).p99;
  const theirs = summary(samples.raw).p99;
  ratioLine(
    'scale',
    'inviteflow/baseline list p99',
    ours / theirs,
    'GET p99 < 200 ms and worker memory flat once the cache is full',
    ours < 200 && flat,
    `GET p99 ${ours.toFixed(1)} vs raw ${theirs.toFixed(1)} ms at ${total} pending; worker heap ${mib(heap(first)).toFixed(0)} → ${mib(heap(last)).toFixed(0)} MiB, rss ${mib(first.stats.rssBytes).toFixed(0)} → ${mib(last.stats.rssBytes).toFixed(0)} MiB`,
  );
} finally {
  await stack.close();
}
