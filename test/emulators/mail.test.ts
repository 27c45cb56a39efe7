// The mail catcher stands in for a mail provider in every local run and end-to-end test: it must
// speak real SMTP (with its fault injection), keep what it receives, and show hostile mail on its
// web inbox without running any of it. Sends with plain nodemailer, not with product code.
import { connect } from 'node:net';
import nodemailer from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher, ParsedMessage } from '../../emulators/mail';

let catcher: MailCatcher;

beforeAll(async () => {
  catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
});

afterAll(async () => {
  await catcher?.close();
});

beforeEach(() => {
  catcher.clear();
  catcher.setDown(false);
});

async function send(message: Partial<SendMailOptions>, smtpUrl = catcher.smtpUrl) {
  const transport = nodemailer.createTransport(smtpUrl);
  try {
    return await transport.sendMail({
      from: 'sender@example.com',
      to: 'bob@example.com',
      subject: 'Hello',
      text: 'Hello Bob',
      ...message,
    });
  } finally {
    transport.close();
  }
}

async function sendError(message: Partial<SendMailOptions>): Promise<{ responseCode?: number }> {
  const outcome: unknown = await send(message).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(Error);
  return outcome as { responseCode?: number };
}

const get = (path: string) => fetch(`${catcher.httpUrl}${path}`);

describe('SMTP side', () => {
  it('accepts a message and keeps it parsed: envelope, headers, text and HTML', async () => {
    const longValue = `<https://example.com/${'x'.repeat(120)}>`;
    await send({
      from: '"Sender Name" <sender@example.com>',
      to: 'Bob <bob@example.com>',
      html: '<p>Hello <b>Bob</b></p>',
      headers: { 'X-Custom-Header': 'custom value', 'List-Unsubscribe': longValue },
    });
    const [message] = catcher.messages();
    expect(message).toMatchObject({
      id: expect.any(String),
      from: '"Sender Name" <sender@example.com>',
      to: ['bob@example.com'],
      mailFrom: 'sender@example.com',
      subject: 'Hello',
      text: 'Hello Bob',
      html: '<p>Hello <b>Bob</b></p>',
    });
    expect(message!.headers['x-custom-header']).toBe('custom value');
    // Long header values arrive folded; the catcher hands them back unfolded.
    expect(message!.headers['list-unsubscribe']).toBe(longValue);
    expect(Object.keys(message!.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(Number.isNaN(Date.parse(message!.date))).toBe(false);
  });

  it('accepts any credentials, so a production-shaped URL works unchanged', async () => {
    const withAuth = catcher.smtpUrl.replace('smtp://', 'smtp://user:secret@');
    await send({ subject: 'authenticated' }, withAuth);
    expect(catcher.messages()[0]!.subject).toBe('authenticated');
  });

  it('answers 421 while down and accepts again once back up', async () => {
    catcher.setDown(true);
    expect((await sendError({})).responseCode).toBe(421);
    catcher.setDown(false);
    await send({ subject: 'after the outage' });
    expect(catcher.messages().map((m) => m.subject)).toEqual(['after the outage']);
  });

  it('survives a client that resets its connection mid-message, and accepts the next one', async () => {
    const { port } = new URL(catcher.smtpUrl);
    const socket = connect(Number(port), '127.0.0.1');
    const said: string[] = [];
    const waitFor = (code: string) => vi.waitFor(() => expect(said.join('')).toContain(code), { timeout: 10_000, interval: 10 });
    socket.on('data', (d: Buffer) => said.push(d.toString()));
    socket.on('error', () => {});
    await waitFor('220 ');
    socket.write('EHLO killed.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n');
    await waitFor('354 ');
    // Half a message handed to the kernel (the server is past 354, in DATA), then the sender dies.
    await new Promise<void>((resolve, reject) => socket.write('Subject: half a message\r\n\r\nthe sender dies here', (err) => (err ? reject(err) : resolve())));
    // A TCP reset, as the kernel sends for a SIGKILLed process with unread data. The catcher runs
    // in this process: it meets the reset on its socket before the many round trips of the next
    // message are over, so the check below follows it.
    socket.resetAndDestroy();
    await send({ subject: 'after the reset' });
    expect(catcher.messages().map((m) => m.subject)).toEqual(['after the reset']);
  });

  it('refuses reject-NNN recipients with that reply code', async () => {
    expect((await sendError({ to: 'reject-550@example.com' })).responseCode).toBe(550);
    expect((await sendError({ to: 'reject-452+tag@example.com' })).responseCode).toBe(452);
    expect(catcher.messages()).toHaveLength(0);
  });

  it('keeps only the newest messages beyond its bound', async () => {
    const small = await startMailCatcher({ smtpPort: 0, httpPort: 0, maxMessages: 3 });
    try {
      for (let i = 1; i <= 5; i++) await send({ subject: `message ${i}` }, small.smtpUrl);
      expect(small.messages().map((m) => m.subject)).toEqual(['message 5', 'message 4', 'message 3']);
    } finally {
      await small.close();
    }
  });
});

describe('waitForMessage', () => {
  it('resolves with a message that arrives later', async () => {
    const waiting = catcher.waitForMessage((m) => m.subject === 'later');
    await send({ subject: 'other' });
    await send({ subject: 'later' });
    expect((await waiting).subject).toBe('later');
  });

  it('resolves with the newest matching message already received', async () => {
    await send({ subject: 'first', text: 'one' });
    await send({ subject: 'first', text: 'two' });
    expect((await catcher.waitForMessage((m) => m.subject === 'first')).text.trim()).toBe('two');
  });

  it('rejects when nothing matches in time', async () => {
    await expect(catcher.waitForMessage((m) => m.subject === 'never', 50)).rejects.toThrow(
      /No matching message/,
    );
  });
});

describe('JSON API', () => {
  it('lists messages newest first, filters by recipient, shows one, and deletes all', async () => {
    await send({ subject: 'to bob' });
    await send({ subject: 'to carol', to: 'carol@example.com' });

    const all = (await (await get('/api/messages')).json()) as ParsedMessage[];
    expect(all.map((m) => m.subject)).toEqual(['to carol', 'to bob']);

    const forBob = (await (await get('/api/messages?to=BOB@example.com')).json()) as ParsedMessage[];
    expect(forBob.map((m) => m.subject)).toEqual(['to bob']);

    const one = await get(`/api/messages/${all[1]!.id}`);
    expect(one.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await one.json()) as ParsedMessage).subject).toBe('to bob');
    expect((await get('/api/messages/does-not-exist')).status).toBe(404);

    expect((await fetch(`${catcher.httpUrl}/api/messages`, { method: 'DELETE' })).status).toBe(204);
    expect(await (await get('/api/messages')).json()).toEqual([]);
    expect(catcher.messages()).toEqual([]);
  });
});

describe('web inbox', () => {
  const hostileSubject = '<img src=x onerror=alert(1)> "quoted" & \'single\'';
  const hostileHtml =
    '<script>alert(1)</script><p onclick="alert(2)">Hi</p>' +
    '<a href="javascript:alert(3)">bad</a> <a href="https://ok.example/accept?a=1&amp;b=2">good</a>';

  it('lists messages with every field escaped', async () => {
    await send({ subject: hostileSubject, from: '"<b>Eve</b>" <eve@example.com>', html: hostileHtml });
    const res = await get('/');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await res.text();
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<b>Eve');
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62; &#34;quoted&#34; &#38; &#39;single&#39;');
    expect(page).toContain('&#60;b&#62;Eve&#60;/b&#62;');
    expect(page).toMatch(/<a href="\/messages\/[^"]+">/);
  });

  it('shows the HTML part only inside a script-less sandboxed iframe, plus text, links and headers', async () => {
    await send({ subject: hostileSubject, html: hostileHtml, text: 'Text part <not a tag>' });
    const [message] = catcher.messages();
    const page = await (await get(`/messages/${message!.id}`)).text();

    const iframe = /<iframe\b[^>]*>/.exec(page)?.[0];
    expect(iframe).toBeDefined();
    const sandbox = /sandbox="([^"]*)"/.exec(iframe!)?.[1];
    expect(sandbox).toBeDefined();
    expect(sandbox).not.toContain('allow-scripts');
    expect(sandbox).not.toContain('allow-same-origin');
    expect(iframe).toContain(
      'srcdoc="&#60;base target=&#34;_blank&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;',
    );

    // Outside the srcdoc attribute, nothing from the message is markup.
    const outside = page.replace(/srcdoc="[^"]*"/, 'srcdoc=""');
    expect(outside).not.toMatch(/<script|<img|onclick=|javascript:alert\(3\)"/i);
    expect(outside).toContain('Text part &#60;not a tag&#62;');
    // Web links are clickable (entities decoded, then escaped again); others stay text.
    expect(outside).toContain(
      '<a href="https://ok.example/accept?a=1&#38;b=2" target="_blank" rel="noopener noreferrer">',
    );
    expect(outside).toContain('<li>javascript:alert(3)</li>');
    expect(outside).toMatch(/<td class="h">subject<\/td>/);
  });

  it('answers 404 for an unknown message and clears from the inbox button', async () => {
    expect((await get('/messages/12345')).status).toBe(404);
    await send({ subject: 'to be cleared' });
    const res = await fetch(`${catcher.httpUrl}/clear`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    expect(catcher.messages()).toEqual([]);
  });
});
