/**
 * Redemption round trip: `POST /v1/redemptions` as the Auth0 Action calls it (an HS256 Action
 * token with a fresh `jti`, a real link token minted with the worker's key for a link id the
 * invite issued) against raw `executeUpdate` on a trivial workflow whose update handler answers
 * from its state, validator included. The invites' side effects (Auth0 roles and metadata,
 * HubSpot contact) run for real against the emulators after each answer, off the measured path.
 *
 *   npm run bench:redeem [-- --redemptions 500 --warmup 30 --concurrency 1 --breakdown 1 --settle 1 --db file]
 *
 * Calls alternate between the sides one by one (the order flips each round). With `--settle 1`
 * (the default) each call's workflow is left to close before the next call starts, outside the
 * timing: a redemption's grant (five Auth0 and HubSpot requests, the funnel webhook, three
 * workflow tasks) otherwise runs during the next call, and with three sides in a flipping order
 * the API's call always came right after a redemption (the direct update and the baseline only
 * every other round), which charged the grant's work to the API alone. `--settle 0` keeps the
 * calls back to back. The Action signs its token before it calls; so does this load generator,
 * outside the timing. `--breakdown 1` adds the same `redeem` update executed by a client
 * directly, which separates the HTTP and token checks from the workflow.
 */
import { randomBytes } from 'node:crypto';
import { inviteWorkflowId, redeemUpdate } from '../workflows/messages';
import type { Redeemer } from '../workflows/messages';
import { BASELINE_TASK_QUEUE, claimUpdate, updatableWorkflow } from './baseline/workflows';
import {
  flags,
  int,
  measuring,
  pairedBootstrap,
  pool,
  printHeader,
  printLoadAfter,
  ratioLine,
  summary,
  table,
  until,
} from './support/report';
import { startBenchStack } from './support/stack';

const startedAt = performance.now();
const args = flags({ redemptions: 500, warmup: 30, concurrency: 1, breakdown: 1, settle: 1, db: 'file' });
const total = int(args.redemptions, 'redemptions');
const warmup = int(args.warmup, 'warmup');
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const breakdown = args.breakdown === '1';
const settle = args.settle === '1';
const db = args.db === 'memory' ? 'memory' : 'file';
printHeader('bench:redeem — redemption round trip', {
  redemptions: total,
  warmup,
  concurrency,
  breakdown,
  settle,
  db,
  activities: 'real (Auth0 and HubSpot emulators, no rate limit)',
});

const stack = await startBenchStack({
  email: 'real',
  baseline: true,
  db,
  mailMaxMessages: 3 * (total + warmup) + 1000,
});
const tag = randomBytes(3).toString('hex');
const count = total + warmup;
const groups = breakdown ? 2 : 1;

interface Prepared {
  token: string;
  user: { id: string; email: string; email_verified: boolean; connection: string };
  inviteId: string;
  linkId: string;
}

try {
  // Invites through the API, as the funnel creates them, each with an Auth0 account waiting.
  console.log(`set-up: ${count * groups} invites through the API, ${count} baseline runs…`);
  const invites: Prepared[] = new Array<Prepared>(count * groups);
  await pool(count * groups, 8, async (i) => {
    const email = `redeem.${tag}.${i}@example.com`;
    const res = await fetch(`${stack.apiUrl}/v1/invites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.funnelToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, roles: ['member'], data: { leadId: `L-${i}`, plan: 'pro' } }),
    });
    const body = (await res.json()) as { id: string };
    if (res.status !== 201) throw new Error(`POST /v1/invites answered ${res.status}`);
    const account = await stack.auth0.createUser({
      email,
      email_verified: true,
      // No password: the emulator would hash it with scrypt, about 80 ms of CPU per account.
      connection: 'Username-Password-Authentication',
    });
    const { linkId, expiresAt } = await stack.firstLink(body.id);
    const token = await stack.signer.mint({ inviteId: body.id, jti: linkId, expiresAt });
    invites[i] = {
      token,
      inviteId: body.id,
      linkId,
      user: {
        id: account.user_id,
        email,
        email_verified: true,
        connection: 'Username-Password-Authentication',
      },
    };
  });
  const baselineIds: { workflowId: string; linkId: string }[] = [];
  await pool(count, 8, async (i) => {
    const workflowId = `claim-${tag}-${i}`;
    const linkId = randomBytes(16).toString('hex');
    await stack.client.workflow.start(updatableWorkflow, {
      taskQueue: BASELINE_TASK_QUEUE,
      workflowId,
      args: [{ roles: ['member'], data: { leadId: `L-${i}`, plan: 'pro' }, linkId }],
    });
    baselineIds[i] = { workflowId, linkId };
  });
  // Quiet again before measuring: every invite emailed and waiting, every baseline run waiting.
  await until(async () => (await stack.mail.count()) >= count * groups, 'the invite emails', 300_000);
  await new Promise((r) => setTimeout(r, 2000));

  const post = async (p: Prepared) => {
    const auth = await stack.actionToken(p.user.id);
    const t0 = performance.now();
    const res = await fetch(`${stack.apiUrl}/v1/redemptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: p.token, user: p.user }),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`POST /v1/redemptions answered ${res.status}: ${text}`);
    return ms;
  };
  const direct = async (p: Prepared) => {
    const user: Redeemer = {
      userId: p.user.id,
      email: p.user.email,
      emailVerified: true,
      connection: p.user.connection,
    };
    const t0 = performance.now();
    await stack.client.workflow
      .getHandle(inviteWorkflowId(p.inviteId))
      .executeUpdate(redeemUpdate, { args: [{ linkId: p.linkId, user }] });
    return performance.now() - t0;
  };
  const raw = async (i: number) => {
    const { workflowId, linkId } = baselineIds[i]!;
    const t0 = performance.now();
    await stack.client.workflow
      .getHandle(workflowId)
      .executeUpdate(claimUpdate, { args: [{ linkId, userId: `user-${i}` }] });
    return performance.now() - t0;
  };

  const samples = { inviteflow: [] as number[], direct: [] as number[], baseline: [] as number[] };
  /** Waits, untimed, for the run a side's call went to: the invite once granted, the baseline once done. */
  const closed = async (side: keyof typeof samples, i: number) => {
    const workflowId =
      side === 'baseline'
        ? baselineIds[i]!.workflowId
        : inviteWorkflowId((side === 'direct' ? invites[count + i] : invites[i])!.inviteId);
    await stack.client.workflow.getHandle(workflowId).result();
  };
  const round = async (i: number, keep: boolean) => {
    const steps: [keyof typeof samples, () => Promise<number>][] = [
      ['baseline', () => raw(i)],
      ...(breakdown
        ? ([['direct', () => direct(invites[count + i]!)]] as [keyof typeof samples, () => Promise<number>][])
        : []),
      ['inviteflow', () => post(invites[i]!)],
    ];
    if (i % 2 === 1) steps.reverse();
    for (const [side, step] of steps) {
      const ms = await step();
      if (keep) samples[side].push(ms);
      if (settle) await closed(side, i);
    }
  };
  await pool(warmup, concurrency, (i) => round(i, false));
  stack.apiTimes.clear();
  measuring();
  const measured = await pool(total, concurrency, (i) => round(warmup + i, true));

  const row = (name: string, sample: number[]) => ({ side: name, calls: sample.length, ...summary(sample) });
  const rows = [
    row('baseline: executeUpdate (trivial update)', samples.baseline),
    ...(breakdown ? [row('  breakdown: redeem executeUpdate, no HTTP', samples.direct)] : []),
    row('inviteflow: POST /v1/redemptions', samples.inviteflow),
    row('  of which inside the API (Fastify elapsed)', stack.apiTimes.get('POST /v1/redemptions') ?? []),
  ];
  table(
    rows.map((r) => ({
      side: r.side,
      calls: r.calls,
      'p50 ms': r.p50,
      'p90 ms': r.p90,
      'p99 ms': r.p99,
      'max ms': r.max,
      'mean ms': r.mean,
    })),
  );
  console.log(
    `measured for ${(measured.wallMs / 1000).toFixed(1)} s at concurrency ${concurrency} per side.`,
  );

  // The side effects must all have gone through, or the benchmark measured a broken system.
  const completed = async () =>
    (await stack.client.workflow.count(`WorkflowType = 'inviteWorkflow' AND InviteStatus = 'completed'`))
      .count;
  await until(
    async () => (await completed()) >= (total + warmup) * groups,
    'every redeemed invite to complete',
    300_000,
    500,
  ).catch(() => undefined);
  console.log(
    `invites completed (roles, metadata and contact written): ${await completed()} of ${(total + warmup) * groups}`,
  );
  printLoadAfter(startedAt);

  const ours = rows.at(-2)!;
  const theirs = rows[0]!;
  const gap = ours.p99 - theirs.p99;
  // Both sides ran in the same rounds, side by side: resampling the rounds says how much of the
  // gap a rerun on this machine could move.
  const interval = pairedBootstrap(samples.inviteflow, samples.baseline, 99);
  const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)}`;
  console.log(
    `p99 gap ${signed(gap)} ms; 90 % paired-bootstrap interval ${signed(interval.low)} to ${signed(interval.high)} ms (p50 gap ${signed(ours.p50 - theirs.p50)} ms)`,
  );
  ratioLine(
    'redeem',
    'inviteflow/baseline p99',
    ours.p99 / theirs.p99,
    'p99 <= baseline p99 + 5 ms',
    gap <= 5,
    `p99 ${ours.p99.toFixed(1)} vs ${theirs.p99.toFixed(1)} ms, ${gap >= 0 ? '+' : ''}${gap.toFixed(1)} ms; p50 ${ours.p50.toFixed(1)} vs ${theirs.p50.toFixed(1)} ms`,
  );
} finally {
  await stack.close();
}
