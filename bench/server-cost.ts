/**
 * What each part of an invite's creation costs the Temporal server, in CPU per run: the empty
 * workflow of `bench:create`'s baseline, the same with patch markers, with one activity, with one
 * local activity, with a timer left pending, and the invite workflow itself (started the way the
 * API starts it, its email activity a no-op). It is the cost model behind `bench:create`'s ratio
 * (on two cores the server is the bottleneck) and a capacity-planning figure: server CPU per
 * invite created.
 *
 * Every shape runs `--runs` times, `--concurrency` in flight, in `--rounds` rounds whose order
 * flips each time; a phase ends when its runs reached their state (closed, or emailed) and the
 * server has gone quiet (its visibility and timer tasks done). CPU is read from /proc. A shape's
 * cost over the empty run is taken round by round (the server's cost drifts as its database
 * grows), then averaged.
 *
 *   npm run bench:server-cost [-- --runs 300 --concurrency 16 --rounds 4 --db file|memory]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { InviteActivities } from '../activities';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../client/invites';
import { WORKFLOWS_PATH } from '../worker/worker';
import { SHAPES_TASK_QUEUE } from './baseline/shapes';
import type { ShapeActivities } from './baseline/shapes';
import { cpuParts, flags, int, measuring, pool, printHeader, printLoadAfter, table, until } from './support/report';
import { startBenchTemporal } from './support/stack';

const opts = flags({ runs: 300, concurrency: 16, rounds: 4, db: 'file' });
const runs = int(opts.runs, 'runs');
const concurrency = int(opts.concurrency, 'concurrency');
const rounds = int(opts.rounds, 'rounds');
if (opts.db !== 'file' && opts.db !== 'memory') {
  console.error('--db must be file or memory');
  process.exit(2);
}

const INVITE_TASK_QUEUE = 'bench-invites';

interface Shape {
  name: string;
  workflowType: string;
  /** What it adds to the empty run. */
  what: string;
  /** Measured CPU per run, one value per round (ms). */
  server: number[];
  worker: number[];
  start(i: number): Promise<void>;
  /** Resolves when the phase's runs reached their state (the server may still be busy). */
  settled(): Promise<void>;
}

const startedAt = performance.now();
printHeader('server cost per workflow shape', { runs, concurrency, rounds, db: opts.db });

const dataDir = mkdtempSync(join(tmpdir(), 'inviteflow-bench-'));
const env = await startBenchTemporal(opts.db, dataDir);

const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
let emails = 0;
const notUsed = (name: string) => () => Promise.reject(new Error(`${name} is not part of an invite's creation`));
const inviteActivities: InviteActivities = {
  sendInviteEmail: (input) => {
    emails++;
    return Promise.resolve({ messageId: `<${input.inviteId}.${input.sequence}@bench>`, acceptedAt: new Date().toISOString() });
  },
  sendEscalationEmail: notUsed('sendEscalationEmail'),
  assignAuth0Roles: notUsed('assignAuth0Roles'),
  writeAuth0AppMetadata: notUsed('writeAuth0AppMetadata'),
  markAuth0EmailVerified: notUsed('markAuth0EmailVerified'),
  linkHubSpotContact: notUsed('linkHubSpotContact'),
  markHubSpotInviteStale: notUsed('markHubSpotInviteStale'),
  // Part of every invite's creation since the contact is upserted then; HubSpot is not the subject here.
  upsertHubSpotInvitee: () => Promise.resolve({ contactId: '1' }),
  findAuth0Accounts: notUsed('findAuth0Accounts'),
  linkAuth0Accounts: notUsed('linkAuth0Accounts'),
  notifyFunnel: notUsed('notifyFunnel'),
};
const shapeActivities: ShapeActivities = { noop: () => Promise.resolve() };

const [shapesWorker, inviteWorker] = await Promise.all([
  Worker.create({
    connection: env.nativeConnection,
    taskQueue: SHAPES_TASK_QUEUE,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: new URL('./baseline/shapes.ts', import.meta.url).pathname, logger: silent }),
    activities: shapeActivities,
  }),
  Worker.create({
    connection: env.nativeConnection,
    taskQueue: INVITE_TASK_QUEUE,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silent }),
    activities: inviteActivities,
  }),
]);
const running = Promise.all([shapesWorker.run(), inviteWorker.run()]);

const runTag = randomBytes(4).toString('hex');
const idKey = randomBytes(24).toString('base64url');
const startInvite = createInviteStarter(env.client, INVITE_TASK_QUEUE);

/** A shape of the shapes worker: closing ones are awaited, open ones (the timer) are not. */
function shape(name: string, workflowType: string, what: string, closes: boolean): Shape {
  let handles: Promise<unknown>[] = [];
  return {
    name,
    workflowType,
    what,
    server: [],
    worker: [],
    async start(i) {
      const handle = await env.client.workflow.start(workflowType, {
        taskQueue: SHAPES_TASK_QUEUE,
        workflowId: `${workflowType}-${runTag}-${i}-${randomBytes(3).toString('hex')}`,
      });
      if (closes) handles.push(handle.result());
    },
    async settled() {
      await Promise.all(handles);
      handles = [];
    },
  };
}

let inviteCount = 0;
const empty = shape('empty workflow (bench:create baseline)', 'shapeEmpty', 'start, one task, close', true);
const activity = shape('+ 1 activity', 'shapeActivity', 'activity task through matching, a second workflow task', true);
const localActivity = shape('+ 1 local activity', 'shapeLocalActivity', 'run inside the first task, recorded as a marker', true);
const invite: Shape = {
  name: 'invite workflow, started as the API does',
  workflowType: 'inviteWorkflow',
  what: '4 search attributes, memo, summary; invite-v2 marker; email activity (no-op); timers',
  server: [],
  worker: [],
  async start() {
    const n = inviteCount++;
    const prepared = prepareInvite(idKey, { email: `bench.${runTag}.${n}@example.com`, scope: `bench-${runTag}` });
    await startInvite(prepared.input, inviteStartMeta(prepared.invite));
  },
  async settled() {
    await until(() => emails >= inviteCount, 'every invite email', 600_000);
  },
};
const shapes: Shape[] = [
  empty,
  shape('+ 1 patch marker', 'shapePatch1', 'a marker and a TemporalChangeVersion upsert', true),
  shape('+ 4 patch markers', 'shapePatch4', 'four of each (the invite before invite-v2)', true),
  activity,
  localActivity,
  shape('+ 1 timer, left open', 'shapeTimer', 'a timer instead of the close', false),
  invite,
];

/** Waits until the server used less than 10 ms of CPU over half a second (its queues drained). */
async function quiet(): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = cpuParts().server;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuParts().server;
    if (now - last < 0.01 || Date.now() > deadline) return;
    last = now;
  }
}

// Warm-up: a few of each, so that bundles, caches and the database are past their first use.
for (const s of shapes) {
  await pool(20, concurrency, (i) => s.start(i));
  await s.settled();
}
await quiet();
measuring();

for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? shapes : [...shapes].reverse();
  for (const s of order) {
    const before = cpuParts();
    await pool(runs, concurrency, (i) => s.start(i));
    await s.settled();
    await quiet();
    const after = cpuParts();
    s.server.push(((after.server - before.server) * 1000) / runs);
    s.worker.push(((after.self - before.self) * 1000) / runs);
  }
}

// One history of each shape, for its event count.
const eventsOf = async (workflowId: string) => (await env.client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
/** The usual length of a shape's history: the most common among a few runs (a retried task adds events). */
async function sampleEvents(workflowType: string): Promise<number | ''> {
  const lengths: number[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowType = '${workflowType}'`, pageSize: 5 })) {
    lengths.push(await eventsOf(w.workflowId));
    if (lengths.length === 5) break;
  }
  if (lengths.length === 0) return '';
  const counts = new Map<number, number>();
  for (const n of lengths) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** A shape's cost over the empty run, round by round (the server's cost drifts as its database grows). */
const overEmpty = (s: Shape) => mean(s.server.map((v, r) => v - empty.server[r]!));
const rows: Record<string, string | number>[] = [];
for (const s of shapes) {
  rows.push({
    shape: s.name,
    'history events': await sampleEvents(s.workflowType),
    'server CPU ms/run': mean(s.server),
    'per round': s.server.map((v) => v.toFixed(1)).join(' / '),
    'vs empty ms': overEmpty(s),
    'worker CPU ms/run': mean(s.worker),
    adds: s.what,
  });
}
table(rows);

printLoadAfter(startedAt, 'load generator, client and both workers');
shapesWorker.shutdown();
inviteWorker.shutdown();
await running;
await env.teardown();
rmSync(dataDir, { recursive: true, force: true });

const inviteMs = mean(invite.server);
const emptyMs = mean(empty.server);
console.log(
  `ratio server-cost: invite/empty server CPU per run = ${(inviteMs / emptyMs).toFixed(2)} (${inviteMs.toFixed(1)} vs ${emptyMs.toFixed(1)} ms; an activity adds ${overEmpty(activity).toFixed(1)} ms, a local activity ${overEmpty(localActivity).toFixed(1)} ms) (no target: the cost model behind bench:create)`,
);
