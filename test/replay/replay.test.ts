/**
 * Determinism guard: every recorded history (one per workflow path, written by the workflow
 * tests with RECORD_HISTORIES=1 and then kept as they are) must replay through the current
 * workflow code. A change that alters the commands an old history produced fails here; guard it
 * with `patched()` instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';
import { workflowBundle } from '../support/temporal';
import { testDataConverter } from '../support/payload-keys';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

describe('recorded histories replay', () => {
  it('has a recorded history for every workflow path', () => {
    expect(files.map((f) => f.replace(/\.json$/, ''))).toEqual(
      expect.arrayContaining([
        'redeem',
        'redeem-unverified',
        'redeem-repeat',
        'mismatch-then-redeem',
        'any-policy',
        'revoke',
        'resend',
        'extend',
        'reminders-expiry',
        'decline',
        'transient-retry',
        'side-effect-refused',
        'email-refused',
        'email-search-value',
        'created-at-quiet-upserts',
        'lifecycle',
        'attribution',
        'undeliverable-then-redeem',
        'undeliverable-expiry',
        'escalation',
        'send-window',
        'claim-by-email',
        'single-patch-marker',
        'crm-at-creation',
        'crm-down-at-creation',
        'all-verified',
        'link-accounts',
        'link-refused',
      ]),
    );
  });

  // Recorded in clear: a worker with payload encryption on (the default) still replays them, its
  // codec passing unencrypted payloads through; so does one with PAYLOAD_ENCRYPTION=off.
  it.each(files.flatMap((file) => [[file, 'encryption on'] as const, [file, 'encryption off'] as const]))('%s (%s)', async (file, mode) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle(), ...(mode === 'encryption on' ? { dataConverter: testDataConverter } : {}) },
      history,
      file,
    );
  });
});
