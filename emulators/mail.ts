/**
 * The local mail catcher: a real SMTP server that accepts every message, keeps the latest ones in
 * memory and shows them on a small web inbox. It stands in for a mail provider, so it shares no
 * code with the product; it only speaks SMTP and HTTP.
 *
 * Run it alone with `npx tsx emulators/mail.ts` (SMTP on 1025, inbox on http://127.0.0.1:1080;
 * env MAIL_CATCHER_SMTP_PORT, MAIL_CATCHER_HTTP_PORT, MAIL_CATCHER_HOST), or start it in-process
 * with `startMailCatcher({ smtpPort: 0, httpPort: 0 })` in tests.
 *
 * Fault injection:
 * - `setDown(true)` answers 421 to new connections and to MAIL FROM (a provider outage);
 * - a recipient whose local part starts with `reject-NNN` (e.g. `reject-550@example.com`,
 *   `reject-452+anything@example.com`) is refused at RCPT TO with SMTP reply NNN (400-599).
 *
 * HTTP: `GET /` inbox (newest first), `GET /messages/:id` one message (HTML part in a sandboxed
 * iframe without scripts, text part, links, headers), `GET /api/messages[?to=address]` and
 * `GET /api/messages/:id` as JSON, `DELETE /api/messages` (or the inbox's Clear button) empties it.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';

/** One received message, as the inbox and its JSON API show it. */
export interface ParsedMessage {
  /** Catcher-assigned id, increasing in arrival order. */
  id: string;
  /** When the catcher accepted it (ISO 8601). */
  receivedAt: string;
  /** The Date header (ISO 8601), or `receivedAt` when missing or unreadable. */
  date: string;
  /** The From header as text (or the envelope sender when missing). */
  from: string;
  /** Envelope recipients: who the message was actually delivered to. */
  to: string[];
  /** The envelope sender (MAIL FROM); empty for the null sender. */
  mailFrom: string;
  subject: string;
  /** The text/plain part ('' when absent). */
  text: string;
  /** The text/html part, or null when the message has none. */
  html: string | null;
  /** Header values as on the wire (unfolded, not MIME-decoded), by lowercased name; repeats joined by "\n". */
  headers: Record<string, string>;
  /** Size of the raw message in bytes. */
  size: number;
}

/** A running mail catcher. */
export interface MailCatcher {
  smtpPort: number;
  httpPort: number;
  /** `smtp://host:port`, ready for the product's SMTP_URL. */
  smtpUrl: string;
  /** Base URL of the web inbox. */
  httpUrl: string;
  /** Messages received so far, newest first. */
  messages(): ParsedMessage[];
  /** Resolves with the newest matching message already received, or the next one to arrive. */
  waitForMessage(predicate: (message: ParsedMessage) => boolean, timeoutMs?: number): Promise<ParsedMessage>;
  /** Forgets every message. */
  clear(): void;
  /** Simulates an outage: while down, new connections and MAIL FROM get a 421 reply. */
  setDown(down: boolean): void;
  /** Stops both servers; pending `waitForMessage` calls reject. */
  close(): Promise<void>;
}

/** Options of `startMailCatcher`. */
export interface MailCatcherOptions {
  /** SMTP port (default 1025; 0 picks a free one). */
  smtpPort?: number;
  /** Web inbox port (default 1080; 0 picks a free one). */
  httpPort?: number;
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 inside a container). */
  host?: string;
  /** How many messages to keep; older ones are dropped (default 1000). */
  maxMessages?: number;
}

const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
const REJECT_RECIPIENT = /^reject-([45]\d\d)(?:[+.-]|@)/i;

interface Waiter {
  predicate: (message: ParsedMessage) => boolean;
  resolve: (message: ParsedMessage) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Starts the SMTP server and the web inbox. */
export async function startMailCatcher(opts: MailCatcherOptions = {}): Promise<MailCatcher> {
  const host = opts.host ?? '127.0.0.1';
  const maxMessages = opts.maxMessages ?? 1000;
  let store: ParsedMessage[] = []; // oldest first
  let nextId = 1;
  let down = false;
  const waiters = new Set<Waiter>();

  const accept = (message: ParsedMessage) => {
    store.push(message);
    if (store.length > maxMessages) store = store.slice(store.length - maxMessages);
    for (const waiter of waiters) settle(waiter, message);
  };
  const settle = (waiter: Waiter, message: ParsedMessage) => {
    let matches: boolean;
    try {
      matches = waiter.predicate(message);
    } catch (err) {
      finish(waiter);
      waiter.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (matches) {
      finish(waiter);
      waiter.resolve(message);
    }
  };
  const finish = (waiter: Waiter) => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
  };

  const smtp = new SMTPServer({
    banner: 'inviteflow mail catcher',
    logger: false,
    // Plain SMTP only: the catcher's self-signed STARTTLS would make strict clients fail.
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    size: MAX_MESSAGE_BYTES,
    // Pooled clients keep connections open; do not make close() wait 30 s for them.
    closeTimeout: 500,
    onAuth(_auth, _session, callback) {
      // Any credentials: a production-shaped smtp://user:pass@ URL works unchanged.
      callback(null, { user: 'anyone' });
    },
    onConnect(_session, callback) {
      callback(down ? outage() : null);
    },
    onMailFrom(_address, _session, callback) {
      callback(down ? outage() : null);
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const code = REJECT_RECIPIENT.exec(address.address)?.[1];
      if (code === undefined) return callback();
      const permanent = code.startsWith('5');
      callback(
        smtpError(
          Number(code),
          permanent
            ? '5.1.1 Mailbox unavailable (rejected by the mail catcher)'
            : '4.2.1 Mailbox busy, try again later (mail catcher)',
        ),
      );
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      simpleParser(stream, {
        skipTextToHtml: true,
        skipHtmlToText: true,
        skipImageLinks: true,
        skipTextLinks: true,
      })
        .then((mail) => {
          if (stream.sizeExceeded) return callback(smtpError(552, '5.3.4 Message too big'));
          const message = toParsedMessage(String(nextId++), mail, session, stream.byteLength);
          accept(message);
          callback(null, `Queued as ${message.id}`);
        })
        .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
    },
  });

  // A client that dies mid-session (a killed worker) resets its connection; smtp-server reports
  // that as an 'error' event, which would otherwise crash the process hosting the catcher. A real
  // mail server shrugs it off, and so does this one: the session's message was never accepted.
  smtp.on('error', () => {});

  const http = createServer((req, res) => {
    try {
      route(req, res);
    } catch {
      send(res, 500, 'text/plain; charset=utf-8', 'Internal error');
    }
  });

  const route = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://catcher.invalid');
    const path = url.pathname;
    const newestFirst = () => [...store].reverse();
    const find = (id: string) => store.find((m) => m.id === id);

    if (req.method === 'GET' && path === '/') {
      return send(res, 200, HTML, renderInbox(newestFirst()), HTML_HEADERS);
    }
    if (req.method === 'POST' && path === '/clear') {
      store = [];
      res.writeHead(303, { location: '/' }).end();
      return;
    }
    const page = /^\/messages\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && page) {
      const message = find(decodeURIComponent(page[1]!));
      return message
        ? send(res, 200, HTML, renderMessage(message), HTML_HEADERS)
        : send(res, 404, HTML, renderNotFound(), HTML_HEADERS);
    }
    if (path === '/api/messages') {
      if (req.method === 'GET') {
        const to = url.searchParams.get('to')?.toLowerCase();
        const list =
          to === undefined
            ? newestFirst()
            : newestFirst().filter((m) => m.to.some((a) => a.toLowerCase() === to));
        return send(res, 200, JSON_TYPE, JSON.stringify(list));
      }
      if (req.method === 'DELETE') {
        store = [];
        res.writeHead(204).end();
        return;
      }
      return send(res, 405, JSON_TYPE, JSON.stringify({ error: 'method_not_allowed' }), {
        allow: 'GET, DELETE',
      });
    }
    const api = /^\/api\/messages\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && api) {
      const message = find(decodeURIComponent(api[1]!));
      return message
        ? send(res, 200, JSON_TYPE, JSON.stringify(message))
        : send(res, 404, JSON_TYPE, JSON.stringify({ error: 'not_found' }));
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'Not found');
  };

  const smtpPort = await listen(smtp.server, opts.smtpPort ?? 1025, host);
  let httpPort: number;
  try {
    httpPort = await listen(http, opts.httpPort ?? 1080, host);
  } catch (err) {
    smtp.close();
    throw err;
  }
  // A wildcard listen address is not something a client can connect to.
  const reachable =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    smtpPort,
    httpPort,
    smtpUrl: `smtp://${reachable}:${smtpPort}`,
    httpUrl: `http://${reachable}:${httpPort}`,
    messages: () => [...store].reverse(),
    waitForMessage(predicate, timeoutMs = 10_000) {
      return new Promise<ParsedMessage>((resolvePromise, rejectPromise) => {
        let existing: ParsedMessage | undefined;
        try {
          existing = [...store].reverse().find(predicate);
        } catch (err) {
          return rejectPromise(err instanceof Error ? err : new Error(String(err)));
        }
        if (existing) return resolvePromise(existing);
        const waiter: Waiter = {
          predicate,
          resolve: resolvePromise,
          reject: rejectPromise,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            rejectPromise(new Error(`No matching message within ${timeoutMs} ms (${store.length} received)`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    clear() {
      store = [];
    },
    setDown(value) {
      down = value;
    },
    async close() {
      for (const waiter of waiters) {
        finish(waiter);
        waiter.reject(new Error('Mail catcher closed'));
      }
      http.closeAllConnections();
      await Promise.all([
        new Promise<void>((done) => smtp.close(() => done())),
        new Promise<void>((done) => http.close(() => done())),
      ]);
    },
  };
}

function toParsedMessage(
  id: string,
  mail: ParsedMail,
  session: SMTPServerSession,
  size: number,
): ParsedMessage {
  const receivedAt = new Date().toISOString();
  const headers: Record<string, string> = {};
  for (const { key, line } of mail.headerLines) {
    const name = key.toLowerCase();
    const colon = line.indexOf(':');
    // RFC 5322 unfolding: drop the line breaks, keep the whitespace that follows them.
    const value = (colon === -1 ? '' : line.slice(colon + 1)).replace(/\r?\n(?=[ \t])/g, '').trim();
    headers[name] = name in headers ? `${headers[name]}\n${value}` : value;
  }
  const mailFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
  const date =
    mail.date !== undefined && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : receivedAt;
  return {
    id,
    receivedAt,
    date,
    from: mail.from?.text ?? mailFrom,
    to: session.envelope.rcptTo.map((r) => r.address),
    mailFrom,
    subject: mail.subject ?? '',
    text: mail.text ?? '',
    html: typeof mail.html === 'string' ? mail.html : null,
    headers,
    size,
  };
}

function outage(): Error {
  return smtpError(421, '4.3.2 Service not available, mail catcher is down');
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Web inbox. Everything from a message is escaped; the HTML part only ever goes into the srcdoc
// of a sandboxed iframe (no allow-scripts, no allow-same-origin), and the page's CSP forbids
// scripts as a second fence.

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(body);
}

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
${extraHead}<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2330}
header{background:#1f2330;color:#fff;padding:12px 24px;display:flex;align-items:center;gap:16px}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:24px;max-width:1100px;margin:0 auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e4e6eb;vertical-align:top;font-size:14px}
th{background:#eef0f3}
td.h{white-space:nowrap;color:#4a4f5c;font-family:ui-monospace,monospace;font-size:12px}
td.v{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all;white-space:pre-wrap}
pre{background:#fff;border:1px solid #e4e6eb;padding:12px;white-space:pre-wrap;word-break:break-word}
iframe{width:100%;height:640px;border:1px solid #e4e6eb;background:#fff}
.empty{color:#6b7080;padding:24px;background:#fff}
.links li{word-break:break-all;margin:4px 0}
button{cursor:pointer}
</style>
</head>
<body>
<header><a href="/">Mail catcher</a><span>${esc(title)}</span></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function renderInbox(messages: ParsedMessage[]): string {
  const rows = messages
    .map(
      (m) =>
        `<tr><td>${esc(m.receivedAt.replace('T', ' ').slice(0, 19))}</td><td>${esc(m.from)}</td>` +
        `<td>${esc(m.to.join(', '))}</td><td><a href="/messages/${encodeURIComponent(m.id)}">${esc(m.subject || '(no subject)')}</a></td></tr>`,
    )
    .join('\n');
  const body =
    messages.length === 0
      ? '<p class="empty">No messages yet. Point an SMTP client at this catcher; this page refreshes itself.</p>'
      : `<form method="post" action="/clear"><p>${messages.length} message${messages.length === 1 ? '' : 's'}, newest first. <button type="submit">Clear</button></p></form>
<table><thead><tr><th>Received (UTC)</th><th>From</th><th>To</th><th>Subject</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  return layout('Inbox', body, '<meta http-equiv="refresh" content="5">\n');
}

function renderMessage(m: ParsedMessage): string {
  const links = extractLinks(m);
  const linkList =
    links.length === 0
      ? '<p class="empty">No links.</p>'
      : `<ul class="links">${links
          .map((href) =>
            // Only web links become anchors: a javascript: or data: URL in a message stays text.
            /^https?:\/\//i.test(href)
              ? `<li><a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${esc(href)}</a></li>`
              : `<li>${esc(href)}</li>`,
          )
          .join('')}</ul>`;
  // Links in the email open in a new tab: a landing page or a login page does not work inside
  // the sandboxed frame (no scripts, and they refuse to be framed).
  const frame =
    m.html === null
      ? '<p class="empty">No HTML part.</p>'
      : `<iframe title="HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${esc(`<base target="_blank">${m.html}`)}"></iframe>`;
  const headerRows = Object.entries(m.headers)
    .map(([name, value]) => `<tr><td class="h">${esc(name)}</td><td class="v">${esc(value)}</td></tr>`)
    .join('\n');
  const body = `<table>
<tr><th>From</th><td>${esc(m.from)}</td></tr>
<tr><th>To (envelope)</th><td>${esc(m.to.join(', '))}</td></tr>
<tr><th>Subject</th><td>${esc(m.subject)}</td></tr>
<tr><th>Date</th><td>${esc(m.date)}</td></tr>
<tr><th>Size</th><td>${m.size} bytes · <a href="/api/messages/${encodeURIComponent(m.id)}">JSON</a></td></tr>
</table>
<h2>Links</h2>
${linkList}
<h2>HTML part</h2>
${frame}
<h2>Text part</h2>
<pre>${m.text ? esc(m.text) : '(none)'}</pre>
<h2>Headers</h2>
<table>
${headerRows}
</table>`;
  return layout(m.subject || '(no subject)', body);
}

function renderNotFound(): string {
  return layout(
    'Not found',
    '<p class="empty">No such message (it may have been cleared). <a href="/">Back to the inbox</a></p>',
  );
}

function extractLinks(m: ParsedMessage): string[] {
  const found = new Set<string>();
  for (const match of (m.html ?? '').matchAll(/\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    found.add(decodeEntities((match[1] ?? match[2] ?? '').trim()));
  }
  for (const match of m.text.matchAll(/https?:\/\/[^\s<>"']+/gi)) found.add(match[0]);
  return [...found].filter((href) => href !== '');
}

function decodeEntities(value: string): string {
  return value.replace(
    /&(amp|lt|gt|quot|#39|#x27);/g,
    (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[name] ?? '',
  );
}

// Started directly (`tsx emulators/mail.ts`): run until interrupted.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const catcher = await startMailCatcher({
    smtpPort: Number(process.env.MAIL_CATCHER_SMTP_PORT ?? 1025),
    httpPort: Number(process.env.MAIL_CATCHER_HTTP_PORT ?? 1080),
    host: process.env.MAIL_CATCHER_HOST ?? '127.0.0.1',
  });
  console.log(`mail catcher: SMTP ${catcher.smtpUrl}, inbox ${catcher.httpUrl}`);
  const stop = () => {
    catcher.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
