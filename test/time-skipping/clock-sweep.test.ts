/**
 * The invite workflow at every hour of the day: invites created at each of the 24 UTC hours, and
 * at every other hour across the next daylight-saving changes in New York and Paris, on the
 * time-skipping server, whose clock starts at the real time and is skipped forward to each
 * instant (no waiting). What may depend on the hour — the reminders' send window, when the
 * escalation and the expiry happen, the zone kept — is checked for every invite, so no outcome
 * hangs on when the suite runs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { fakeActivities } from '../support/fake-activities';
import { timeSkippingEnv, workflowBundle } from '../support/temporal';
import { testDataConverter } from '../support/payload-keys';
import { clockChanges, everyUtcHour } from '../support/clock';
import type { inviteWorkflow } from '../../workflows/invite';
import { historyQuery, inviteWorkflowId, statusQuery } from '../../workflows/messages';
import type { InviteInput } from '../../workflows/messages';

type Handle = WorkflowHandle<typeof inviteWorkflow>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;
// Workflow time moves on by the few milliseconds each task takes; a minute is far above that.
const ON_TIME = MINUTE;

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `sweep-${randomBytes(6).toString('hex')}`;

// The server's clock starts at the real time, so the sweep is laid out from now, forward: the
// hours of the next UTC day, then the next spring-forward and fall-back of each zone after it.
const sweepDay = Math.ceil(Date.now() / DAY) * DAY + DAY;
const changes = ['America/New_York', 'Europe/Paris']
  .flatMap((zone) => clockChanges(zone, sweepDay + 7 * DAY, sweepDay + 380 * DAY))
  .filter((c, i, all) => all.findIndex((o) => o.zone === c.zone && o.kind === c.kind) === i)
  .sort((a, b) => a.at - b.at);

beforeAll(async () => {
  env = await timeSkippingEnv();
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fakeActivities().activities, dataConverter: testDataConverter });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

/** Skips the server's clock forward to `at` (it only moves forward). */
async function skipTo(at: number): Promise<void> {
  const now = await env.currentTimeMs();
  expect(at, `the sweep runs forward in time: ${new Date(at).toISOString()} is past`).toBeGreaterThanOrEqual(now);
  await env.sleep(at - now);
}

/** Local wall-clock minutes after midnight of `ms` in `zone`, computed apart from the code under test. */
function wallClock(ms: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).formatToParts(ms);
  const part = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return part('hour') * 60 + part('minute');
}

interface Started {
  handle: Handle;
  zone: string;
  createdAt: number;
  input: InviteInput;
}

async function start(zone: string, overrides: Partial<InviteInput>): Promise<Started> {
  const input: InviteInput = {
    inviteId: randomBytes(10).toString('hex'),
    email: 'ada@example.com',
    roles: ['member'],
    data: {},
    scope: `sweep:${randomBytes(4).toString('hex')}`,
    locale: 'en',
    inviter: { name: 'Acme team', email: 'grace@acme.example' },
    timeZone: zone,
    sendWindow: { start: '09:00', end: '20:00' },
    ...overrides,
  };
  const createdAt = await env.currentTimeMs();
  const handle = (await env.client.workflow.start('inviteWorkflow', { taskQueue, workflowId: inviteWorkflowId(input.inviteId), args: [input] })) as Handle;
  return { handle, zone, createdAt, input };
}

/** Every reminder of `invite` was due at one of `offsets` and went out at the first instant of 09:00–20:00 local from then on. */
async function checkReminders(invite: Started, offsets: number[]): Promise<void> {
  const status = await invite.handle.query(statusQuery);
  const created = Date.parse(status.createdAt);
  const label = `${invite.zone}, created ${status.createdAt}`;
  expect(status.sendWindow, label).toEqual({ timeZone: invite.zone, start: '09:00', end: '20:00' });
  expect(Math.abs(created - invite.createdAt), label).toBeLessThan(ON_TIME);
  const { events } = await invite.handle.query(historyQuery);
  const reminded = events.filter((e) => e.type === 'reminded').map((e) => Date.parse(e.at));
  expect(reminded, label).toHaveLength(offsets.length);
  offsets.forEach((offset, i) => {
    const due = created + offset;
    const sent = reminded[i]!;
    const what = `${label}: reminder due ${new Date(due).toISOString()}, sent ${new Date(sent).toISOString()}`;
    const local = wallClock(sent, invite.zone);
    expect(sent, what).toBeGreaterThanOrEqual(due);
    expect(local, what).toBeGreaterThanOrEqual(9 * 60);
    expect(local, what).toBeLessThan(20 * 60);
    const dueLocal = wallClock(due, invite.zone);
    if (dueLocal >= 9 * 60 && dueLocal < 20 * 60) {
      expect(sent - due, `${what}: due in daytime, sent at once`).toBeLessThan(ON_TIME);
    } else {
      // Due at night: at the window's opening, the first one after the due time.
      expect(local, `${what}: at 09:00 local`).toBe(9 * 60);
      expect(sent - due, `${what}: the first morning`).toBeLessThanOrEqual(13 * HOUR);
    }
  });
}

describe('the invite workflow at every hour', () => {
  it('reminds in local daytime, escalates and expires on time, for invites created at each UTC hour', { timeout: 240_000 }, async () => {
    const zones = ['America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Etc/GMT', 'Pacific/Kiritimati'];
    const offsets = [DAY, 2 * DAY];
    const invites: Started[] = [];
    for (const at of everyUtcHour(sweepDay)) {
      await skipTo(at);
      for (const zone of zones) {
        invites.push(await start(zone, { reminders: ['1 day', '2 days'], ttl: '3 days', escalateBefore: '1 day' }));
      }
    }
    await skipTo(invites.at(-1)!.createdAt + 3 * DAY + HOUR);
    for (const invite of invites) {
      // Queries, not result(): waiting for a result lets the test server skip its clock to its next
      // own deadline, far past the instants still to sweep.
      await expect.poll(async () => (await invite.handle.query(statusQuery)).state, { timeout: 30_000 }).toBe('expired');
      const final = await invite.handle.query(statusQuery);
      expect(final.state).toBe('expired');
      expect(Date.parse(final.expiredAt!) - invite.createdAt, invite.zone).toBeGreaterThanOrEqual(3 * DAY);
      expect(Date.parse(final.expiredAt!) - invite.createdAt, invite.zone).toBeLessThan(3 * DAY + ON_TIME);
      expect(Date.parse(final.escalatedAt!) - (invite.createdAt + 2 * DAY), invite.zone).toBeLessThan(ON_TIME);
      expect(final.emails[0]!.kind, 'the first email goes at once, whatever the hour').toBe('invite');
      expect(Date.parse(final.emails[0]!.at) - invite.createdAt).toBeLessThan(ON_TIME);
      await checkReminders(invite, offsets);
    }
  });

  it('finds a spring-forward and a fall-back in each zone to sweep', () => {
    expect(changes.map((c) => `${c.zone} ${c.kind}`).sort()).toEqual(['America/New_York fall back', 'America/New_York spring forward', 'Europe/Paris fall back', 'Europe/Paris spring forward']);
  });

  for (const change of changes) {
    it(`reminds at 09:00 local, escalates and expires on time on both sides of the ${change.kind} in ${change.zone} (${new Date(change.at).toISOString().slice(0, 10)})`, async () => {
      // Every other hour from a day before the change to a day after; each reminder is due a day
      // later, so the invites created before the change are reminded after it. A third escalate
      // 40 hours before their expiry (8 hours after creation: before the change for some of
      // those created before it, after it for others), a third 18 hours before (30 hours after
      // creation), a third never; each expires 2 days (48 hours) after its creation.
      const escalations = ['40 hours', '18 hours', false] as const;
      const invites: (Started & { escalateBeforeMs: number | undefined })[] = [];
      for (let at = change.at - DAY + 17 * MINUTE, i = 0; at < change.at + DAY; at += 2 * HOUR, i++) {
        await skipTo(at);
        const escalateBefore = escalations[i % escalations.length]!;
        const invite = await start(change.zone, { reminders: ['1 day'], ttl: '2 days', escalateBefore });
        invites.push({ ...invite, escalateBeforeMs: escalateBefore === false ? undefined : Number.parseInt(escalateBefore, 10) * HOUR });
      }
      const before = invites.filter((i) => i.createdAt < change.at);
      expect(before.length).toBe(12);
      // The sweep reaches escalations on both sides of the change from invites created before it.
      const escalateAt = (i: (typeof invites)[number]) => i.createdAt + 2 * DAY - i.escalateBeforeMs!;
      const escalating = before.filter((i) => i.escalateBeforeMs !== undefined);
      expect(escalating.some((i) => escalateAt(i) < change.at)).toBe(true);
      expect(escalating.some((i) => escalateAt(i) > change.at)).toBe(true);
      await skipTo(invites.at(-1)!.createdAt + 2 * DAY + HOUR);
      for (const invite of invites) {
        await expect.poll(async () => (await invite.handle.query(statusQuery)).state, { timeout: 30_000 }).toBe('expired');
        const final = await invite.handle.query(statusQuery);
        const label = `${invite.zone}, created ${final.createdAt}`;
        const created = Date.parse(final.createdAt);
        const expiresAt = Date.parse(final.expiresAt);
        // The ttl is elapsed time: 48 hours, whatever the clocks did in between.
        expect(expiresAt - created, label).toBe(2 * DAY);
        expect(Date.parse(final.expiredAt!) - expiresAt, `${label}: expired at ${final.expiredAt}`).toBeGreaterThanOrEqual(0);
        expect(Date.parse(final.expiredAt!) - expiresAt, `${label}: expired at ${final.expiredAt}`).toBeLessThan(ON_TIME);
        const { events } = await invite.handle.query(historyQuery);
        const escalated = events.filter((e) => e.type === 'escalated');
        if (invite.escalateBeforeMs === undefined) {
          expect(final.escalatedAt, label).toBeUndefined();
          expect(escalated, label).toEqual([]);
        } else {
          const due = expiresAt - invite.escalateBeforeMs;
          const what = `${label}: escalation due ${new Date(due).toISOString()}, at ${final.escalatedAt}`;
          expect(Date.parse(final.escalatedAt!) - due, what).toBeGreaterThanOrEqual(0);
          expect(Date.parse(final.escalatedAt!) - due, what).toBeLessThan(ON_TIME);
          expect(escalated, what).toHaveLength(1);
          expect(Date.parse(escalated[0]!.at) - due, what).toBeLessThan(ON_TIME);
        }
        await checkReminders(invite, [DAY]);
      }
    });
  }
});
