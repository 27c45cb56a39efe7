/**
 * Funnel to inbox: from the start of `POST /v1/invites` to the moment the SMTP server accepted
 * the invite email (the mail catcher's receive time, same clock, same process). The baseline is
 * the same rendered message sent directly with a pooled nodemailer transport to the same server:
 * what an email costs without Temporal.
 *
 *   npm run bench:email-latency [-- --emails 200 --warmup 20 --concurrency 1 --db file]
 *
 * Calls alternate between the sides one by one (the order flips each time). Concurrency 1
 * measures latency rather than queueing; raise it to see latency under load.
 */
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { renderInviteEmail } from '../activities/templates';
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
} from './support/report';
import { startBenchStack } from './support/stack';

const startedAt = performance.now();
const args = flags({ emails: 200, warmup: 20, concurrency: 1, db: 'file' });
const total = int(args.emails, 'emails');
const warmup = int(args.warmup, 'warmup');
const concurrency = Math.max(1, int(args.concurrency, 'concurrency'));
const db = args.db === 'memory' ? 'memory' : 'file';
printHeader('bench:email-latency — funnel POST to email accepted by SMTP', {
  emails: total,
  warmup,
  concurrency,
  db,
});

const stack = await startBenchStack({
  email: 'real',
  baseline: false,
  db,
  mailMaxMessages: 2 * (total + warmup) + 1000,
});
const tag = randomBytes(3).toString('hex');
// The worker's own transport settings (worker/mailer.ts): pooled, five connections.
const transport = nodemailer.createTransport({
  url: stack.mail.smtpUrl,
  pool: true,
  maxConnections: 5,
  logger: false,
});

try {
  const link = `${stack.apiUrl}/i/${'x'.repeat(420)}`;
  const rendered = renderInviteEmail({
    kind: 'invite',
    locale: 'en',
    appName: 'Acme',
    link,
    declineLink: `${link}/decline`,
    expiresAt: new Date(Date.now() + 7 * 86_400_000),
    inviter: undefined,
  });
  const received = (to: string) =>
    stack.mail.receivedAt(to, 60_000).then((at) => Date.parse(at));

  const samples = { inviteflow: [] as number[], answered: [] as number[], baseline: [] as number[] };
  const viaApi = async (i: number, keep: boolean) => {
    const email = `latency.${tag}.${i}@example.com`;
    const caught = received(email);
    const t0 = Date.now();
    const res = await fetch(`${stack.apiUrl}/v1/invites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.funnelToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, roles: ['member'], data: { leadId: `L-${i}` } }),
    });
    const text = await res.text();
    const answered = Date.now() - t0;
    if (res.status !== 201) throw new Error(`POST /v1/invites answered ${res.status}: ${text}`);
    const at = await caught;
    if (keep) {
      samples.inviteflow.push(at - t0);
      samples.answered.push(answered);
    }
  };
  const direct = async (i: number, keep: boolean) => {
    const to = `direct.${tag}.${i}@example.com`;
    const caught = received(to);
    const t0 = Date.now();
    await transport.sendMail({
      from: 'inviteflow <invites@inviteflow.local>',
      to,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
    });
    const at = await caught;
    if (keep) samples.baseline.push(at - t0);
  };
  const round = async (i: number, keep: boolean) => {
    if (i % 2 === 0) {
      await direct(i, keep);
      await viaApi(i, keep);
    } else {
      await viaApi(i, keep);
      await direct(i, keep);
    }
  };
  await pool(warmup, concurrency, (i) => round(i, false));
  measuring();
  await pool(total, concurrency, (i) => round(warmup + i, true));

  const row = (side: string, sample: number[]) => {
    const s = summary(sample);
    return {
      side,
      emails: sample.length,
      'p50 ms': s.p50,
      'p90 ms': s.p90,
      'p99 ms': s.p99,
      'max ms': s.max,
      'mean ms': s.mean,
    };
  };
  table([
    row('baseline: nodemailer send → accepted', samples.baseline),
    row('inviteflow: POST start → accepted', samples.inviteflow),
    row('  of which: POST start → 201 answer', samples.answered),
  ]);
  console.log(
    'Times are whole milliseconds: the catcher stamps each message with Date.now() when it accepts it.',
  );
  printLoadAfter(startedAt);
  const ours = summary(samples.inviteflow).p50;
  const theirs = summary(samples.baseline).p50;
  ratioLine(
    'email-latency',
    'inviteflow/baseline p50',
    ours / theirs,
    'inviteflow p50 < 1000 ms',
    ours < 1000,
    `p50 ${ours.toFixed(0)} vs ${theirs.toFixed(0)} ms`,
  );
} finally {
  transport.close();
  await stack.close();
}
