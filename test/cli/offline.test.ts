/**
 * The CLI's pure parts, without a server: the CSV reader and writer, rate parsing and pacing, and
 * the history summary over the recorded histories of the replay tests (every path of the
 * workflow, as real runs wrote it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { CsvError, formatCsvRecord, parseCsv } from '../../cli/csv';
import { summarizeHistory } from '../../cli/history';
import type { HistoryEntry } from '../../cli/history';
import { createThrottle, parseRate } from '../../cli/throttle';
import type { SentEmailRecord } from '../../workflows/messages';
import { HISTORIES_DIR } from '../support/histories';

function summary(name: string, emails?: SentEmailRecord[]): Promise<HistoryEntry[]> {
  const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, `${name}.json`), 'utf8')));
  return summarizeHistory(history, loadDataConverter(), emails);
}

const texts = (entries: HistoryEntry[]) => entries.map((e) => e.text);

describe('CSV', () => {
  it('reads quoted fields, doubled quotes, line breaks inside quotes, CRLF and a BOM', () => {
    const text =
      '\ufeffemail,data_note\r\n"ada@example.com","said ""hi"", then\nleft"\r\n\r\ngrace@example.com,\n';
    expect(parseCsv(text)).toEqual([
      ['email', 'data_note'],
      ['ada@example.com', 'said "hi", then\nleft'],
      ['grace@example.com', ''],
    ]);
  });

  it('refuses an unclosed quote and text after a closing quote, naming the line', () => {
    expect(() => parseCsv('email\n"ada@example.com\n')).toThrow(
      new CsvError('a quoted field is not closed', 3),
    );
    expect(() => parseCsv('email\n"ada"x@example.com\n')).toThrow(/line 2: text after a closing quote/);
  });

  it('writes records that read back the same', () => {
    const fields = ['plain', 'with, comma', 'with "quotes"', 'multi\nline', ' padded ', ''];
    expect(formatCsvRecord(fields)).toBe('plain,"with, comma","with ""quotes""","multi\nline"," padded ",\n');
    expect(parseCsv(formatCsvRecord(fields))).toEqual([fields]);
  });
});

describe('rate', () => {
  it('reads per second, minute and hour, and refuses anything else', () => {
    expect(parseRate('5/s')).toBe(5);
    expect(parseRate('5')).toBe(5);
    expect(parseRate('120/min')).toBe(2);
    expect(parseRate('3600/h')).toBe(1);
    expect(parseRate('0.5/s')).toBe(0.5);
    for (const bad of ['', 'fast', '0/s', '5/day', '-1/s', '5/s/s'])
      expect(parseRate(bad), bad).toBeUndefined();
  });

  it('lets the first call through at once and stops waiting when aborted', async () => {
    const controller = new AbortController();
    const throttle = createThrottle(1 / 3600, controller.signal);
    await throttle();
    const waiting = throttle();
    controller.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
  });
});

describe('history summary', () => {
  it('tells a redemption with its side effects and their attempts', async () => {
    const entries = await summary('transient-retry');
    expect(texts(entries)).toEqual([
      'created for ada@example.com in scope workspace:acme, roles: member, billing',
      'invite email #1 sent (1 attempt)',
      'redeemed by auth0|invited <ada@example.com> via Username-Password-Authentication',
      'status pending → redeemed',
      'assignAuth0Roles completed (1 attempt)',
      'writeAuth0AppMetadata completed (1 attempt)',
      'linkHubSpotContact completed (3 attempts)',
      'status redeemed → completed',
      'closed: completed',
    ]);
    expect(entries.find((e) => e.text.startsWith('linkHubSpotContact'))).toMatchObject({
      kind: 'activity',
      outcome: 'completed',
      attempts: 3,
    });
    // Entries are in history order, with the times the server recorded.
    const times = entries.map((e) => Date.parse(e.at));
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    expect(times[0]).toBeGreaterThan(Date.parse('2020-01-01'));
  });

  it('names each email by the kind the workflow recorded, when the status is at hand', async () => {
    const emails = [1, 2, 3].map((sequence): SentEmailRecord => ({
      sequence,
      kind: sequence === 1 ? 'invite' : 'resend',
      linkId: '',
      at: '',
      messageId: '',
    }));
    expect(texts(await summary('resend', emails)).filter((t) => t.includes('email #'))).toEqual([
      'invite email #1 sent (1 attempt)',
      'resend email #2 sent (1 attempt)',
      'resend email #3 sent (1 attempt)',
    ]);
    // Without it, the activity's own input is all there is.
    expect(texts(await summary('resend')).filter((t) => t.includes('email #'))).toContain(
      'invite email #2 sent (1 attempt)',
    );
    expect(texts(await summary('reminders-expiry')).slice(-4)).toEqual([
      'reminder email #2 sent (1 attempt)',
      'reminder email #3 sent (1 attempt)',
      'status pending → expired',
      'closed: expired',
    ]);
  });

  it('tells what the API noted (a link opened, a refused redemption) and a delivery failure', async () => {
    // What the API sent, as history keeps it; the workflow itself ignored the link it never issued.
    expect(texts(await summary('lifecycle')).filter((t) => t.includes('noted by the API') || t === 'audit note')).toEqual([
      'link opened (noted by the API)',
      'link opened (noted by the API)',
      'audit note',
      'redemption refused: invite_email_mismatch for google-oauth2|9 via google-oauth2 (noted by the API)',
    ]);
    expect(texts(await summary('undeliverable-then-redeem'))).toContain('mail provider reported bounce: 550 5.1.1 user unknown');
  });

  it('tells a permanently refused side effect and the failed close', async () => {
    const entries = await summary('side-effect-refused');
    expect(entries.find((e) => e.outcome === 'failed')).toEqual(
      expect.objectContaining({
        kind: 'activity',
        attempts: 1,
        text: 'assignAuth0Roles failed (1 attempt): assignAuth0Roles failed (injected) [UnknownRole]',
      }),
    );
    expect(texts(entries).slice(-2)).toEqual([
      'status redeemed → failed',
      'closed: failed: assignAuth0Roles failed (injected) [SideEffectRefused]',
    ]);
    expect(texts(await summary('email-refused'))).toContain(
      'invite email #1 refused (1 attempt): sendInviteEmail failed (injected) [PermanentFailure]',
    );
  });

  it('tells operator and invitee actions: revoke with its reason, extend, decline, an idempotent repeat', async () => {
    expect(texts(await summary('revoke')).slice(2)).toEqual([
      'revoked: sent to the wrong person',
      'status pending → revoked',
      'closed: revoked',
    ]);
    expect(texts(await summary('extend'))).toEqual(
      expect.arrayContaining([
        'extend requested (ttl 20 days)',
        expect.stringMatching(/^expiry moved to \d{4}-/),
        'invite email #2 sent (1 attempt)',
      ]),
    );
    expect(texts(await summary('decline'))).toContain('declined: the invitee asked for no more email');
    const repeat = await summary('redeem-repeat');
    expect(repeat.filter((e) => e.kind === 'redeemed')).toHaveLength(1);
    expect(texts(repeat)).toContain(
      'redemption repeated by auth0|invited <ada@example.com> via Username-Password-Authentication (idempotent)',
    );
  });
});
