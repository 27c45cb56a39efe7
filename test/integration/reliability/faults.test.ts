/**
 * The small, always-on cut of the fault run (`faults.ts`; the full one is `npm run test:faults`):
 * a worker child process SIGKILLed mid-run, Auth0 and HubSpot answering 429s and 5xx bursts, and
 * an SMTP outage; every invite still completes once, with nothing granted or created twice.
 */
import { describe, expect, it } from 'vitest';
import { formatSummary, runFaultRun, violations } from './faults';

describe('fault run (small)', () => {
  it('completes every invite exactly once through kills, 429/5xx and an SMTP outage', async () => {
    const summary = await runFaultRun({ invites: 4, kills: 1, phaseInvites: 2, seed: 7, smtpDownMs: 1000, deadlineMs: 150_000, log: () => {} });
    expect(violations(summary), formatSummary(summary)).toEqual([]);
    expect(summary.invites).toBe(8);
    expect(summary.kills).toBe(1);
    expect(summary.badInputsTried).toBe(8);
    expect(summary.linkedPeople).toBe(4);
  }, 180_000);
});
