/**
 * Invite creation throughput: `POST /v1/invites` over loopback HTTP (bearer check, input
 * validation, the start with its search attributes, the status query) with the real worker
 * emailing the catcher, against raw `client.workflow.start` of an empty workflow on its own
 * worker, at the same concurrency on the same dev server.
 *
 *   npm run bench:create [-- --invites 500 --concurrency 16 --warmup 50 --rounds 2 --breakdown 1 --db file]
 *
 * Each side runs `invites` calls after a warm-up, split into `rounds` phases whose order
 * alternates (so neither side always runs on a warmer or a quieter machine). After each phase
 * its work drains (every email caught, every baseline run closed) so that no phase pays for the
 * tail of another; the tail is reported as end-to-end throughput. `--breakdown 1` adds two
 * sides between the extremes: the API's own start path without HTTP, and that start followed by
 * a status query, as the API answered until it answered a new invite from its input (a query
 * waits for the run's first workflow task: it is what kept the ratio at 0.25).
 */
import { randomBytes } from 'node:crypto';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../client/invites';
import { inviteWorkflowId, statusQuery, TASK_QUEUE } from '../workflows/messages';
import { BASELINE_TASK_QUEUE, emptyWorkflow } from './baseline/workflows';
import {
  cpuParts,
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
import type { CpuParts } from './support/report';
import { startBenchStack } from './support/stack';

const startedAt = performance.now();
const args = flags({ invites: 500, concurrency: 16, warmup: 50, rounds: 2, breakdown: 1, db: 'file' });
const total = int(args.invites, 'invites');
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const warmup = int(args.warmup, 'warmup');
const rounds = Math.max(1, int(args.rounds, 'rounds'));
const breakdown = args.breakdown === '1';
const db = args.db === 'memory' ? 'memory' : 'file';
printHeader('bench:create — invite creation throughput', {
  invites: total,
  concurrency,
  warmup,
  rounds,
  breakdown,
  db,
  email: 'real SMTP to the catcher',
});

const stack = await startBenchStack({
  email: 'real',
  baseline: true,
  db,
  mailMaxMessages: 4 * (total + warmup) + 1000,
});
const tag = randomBytes(3).toString('hex');
let seq = 0;
const request = () => {
  const i = seq++;
  return {
    email: `bench.${tag}.${i}@example.com`,
    roles: ['member'],
    data: { leadId: `L-${i}`, plan: 'pro' },
  };
};

let emailsExpected = 0;
const emailsCaught = () =>
  until(async () => (await stack.mail.count()) >= emailsExpected, 'the phase’s emails', 300_000);
// Counted as completed rather than "none running": visibility records a start a moment after the
// start returns, so "none running" can hold before the last runs even appear.
let baselineExpected = 0;
const baselineClosed = () =>
  until(
    async () =>
      (await stack.client.workflow.count(`WorkflowType = 'emptyWorkflow' AND ExecutionStatus = 'Completed'`))
        .count >= baselineExpected,
    'the baseline runs to close',
    300_000,
    100,
  );
const starter = createInviteStarter(stack.client, TASK_QUEUE);
const startLikeTheApi = async (withQuery: boolean) => {
  const { input, invite } = prepareInvite(stack.apiConfig.INVITE_ID_KEY, request());
  const { runId } = await starter(input, inviteStartMeta(invite));
  if (withQuery)
    await stack.client.workflow.getHandle(inviteWorkflowId(invite.inviteId), runId).query(statusQuery);
};

interface Side {
  name: string;
  call: () => Promise<void>;
  drain: () => Promise<void>;
  /** What each call leaves to drain: an email, or a baseline run. */
  leaves: 'email' | 'run';
}
const baseline: Side = {
  name: 'baseline: workflow.start (empty workflow)',
  call: async () => {
    await stack.client.workflow.start(emptyWorkflow, {
      taskQueue: BASELINE_TASK_QUEUE,
      workflowId: `baseline-${tag}-${seq++}`,
      args: [request()],
    });
  },
  drain: baselineClosed,
  leaves: 'run',
};
const inviteflow: Side = {
  name: 'inviteflow: POST /v1/invites',
  call: async () => {
    const res = await fetch(`${stack.apiUrl}/v1/invites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.funnelToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(request()),
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST /v1/invites answered ${res.status}: ${text}`);
  },
  drain: emailsCaught,
  leaves: 'email',
};
const sides: Side[] = [
  baseline,
  ...(breakdown
    ? ([
        {
          name: '  breakdown: API start path, no HTTP',
          call: () => startLikeTheApi(false),
          drain: emailsCaught,
          leaves: 'email',
        },
        {
          name: '  breakdown: + a status query (the API before it answered from the input)',
          call: () => startLikeTheApi(true),
          drain: emailsCaught,
          leaves: 'email',
        },
      ] satisfies Side[])
    : []),
  inviteflow,
];

interface Phase {
  calls: number;
  wallMs: number;
  drainMs: number;
  latencies: number[];
  /** CPU seconds of the phase including its drain: server, worker, this process. */
  cpu: CpuParts;
}
async function phase(side: Side, n: number): Promise<Phase> {
  const cpu0 = cpuParts();
  const begin = performance.now();
  const run = await pool(n, concurrency, side.call);
  if (side.leaves === 'email') emailsExpected += n;
  else baselineExpected += n;
  await side.drain();
  const cpu1 = cpuParts();
  return {
    calls: n,
    wallMs: run.wallMs,
    drainMs: performance.now() - begin,
    latencies: run.latencies,
    cpu: {
      server: cpu1.server - cpu0.server,
      worker: cpu1.worker - cpu0.worker,
      services: cpu1.services - cpu0.services,
      self: cpu1.self - cpu0.self,
    },
  };
}

try {
  for (const side of sides) await phase(side, warmup);
  measuring();
  const results = new Map<Side, Phase[]>(sides.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    const n = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) results.get(side)!.push(await phase(side, n));
  }

  const rate = (list: Phase[]) =>
    (list.reduce((a, p) => a + p.calls, 0) * 1000) / list.reduce((a, p) => a + p.wallMs, 0);
  table(
    sides.map((side) => {
      const list = results.get(side)!;
      const calls = list.reduce((a, p) => a + p.calls, 0);
      const lat = summary(list.flatMap((p) => p.latencies));
      return {
        side: side.name,
        calls,
        'calls/s': rate(list),
        'end-to-end/s': (calls * 1000) / list.reduce((a, p) => a + p.drainMs, 0),
        'p50 ms': lat.p50,
        'p99 ms': lat.p99,
        'max ms': lat.max,
        'server CPU ms/call': (list.reduce((a, p) => a + p.cpu.server, 0) * 1000) / calls,
        'worker CPU ms/call': (list.reduce((a, p) => a + p.cpu.worker, 0) * 1000) / calls,
        'API+client CPU ms/call': (list.reduce((a, p) => a + p.cpu.self, 0) * 1000) / calls,
        'services CPU ms/call': (list.reduce((a, p) => a + p.cpu.services, 0) * 1000) / calls,
      };
    }),
  );
  console.log(
    'end-to-end/s: calls until the last email was accepted by SMTP (inviteflow) or the last run closed (baseline).',
  );
  console.log(
    'CPU ms/call: CPU time of each process over the phases including their drain, per call (services: the emulators and the mail catcher).',
  );
  const worker = await stack.workerStats();
  console.log(
    `worker process: rss ${(worker.rssBytes / 2 ** 20).toFixed(0)} MiB, heap ${(worker.heapUsedBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  printLoadAfter(startedAt);
  const ours = rate(results.get(inviteflow)!);
  const theirs = rate(results.get(baseline)!);
  ratioLine(
    'create',
    'inviteflow/baseline',
    ours / theirs,
    '>= 0.9',
    ours / theirs >= 0.9,
    `${ours.toFixed(1)} vs ${theirs.toFixed(1)} calls/s`,
  );
} finally {
  await stack.close();
}
