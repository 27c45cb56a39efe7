/**
 * The demo's HTML: the customer-space shell (the browser module fills it in), the funnel form and
 * its outcomes. Server-rendered text goes through `escapeHtml`; the customer space renders tokens
 * itself with `textContent`. One inline stylesheet, allowed by its hash in the CSP.
 */
import { createHash } from 'node:crypto';
import type { SpaConfig } from './browser/app';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root{color-scheme:light}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d1f24}
header{background:#1d1f24;color:#fff;padding:14px 24px;font-weight:600}
header a{color:#fff;text-decoration:none;margin-right:18px}
header a.muted{color:#aab0bf;font-weight:400}
main{max-width:560px;margin:6vh auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 16px}
h2{font-size:16px;margin:24px 0 8px}
p{line-height:1.5;margin:0 0 14px}
.muted{color:#6b7080;font-size:14px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0 0 8px}
dt{color:#6b7080}
dd{margin:0;overflow-wrap:anywhere}
ul{margin:0 0 8px;padding-left:20px}
pre{background:#f4f5f7;border-radius:8px;padding:12px;overflow:auto;font-size:13px;margin:0}
code{font-size:13px}
label{display:block;font-size:14px;margin:0 0 4px}
input{display:block;width:100%;box-sizing:border-box;font:inherit;padding:10px 12px;border:1px solid #c9ccd6;border-radius:8px;margin:0 0 16px}
.actions{display:flex;gap:10px;margin-top:24px}
.button{display:inline-block;background:#3b5bdb;color:#fff;text-decoration:none;border:0;border-radius:8px;padding:11px 20px;font:inherit;cursor:pointer}
.button.secondary{background:#e7e9f0;color:#1d1f24}
.notice{border-radius:8px;padding:12px 14px 0;margin:0 0 16px}
.notice.error{background:#fff0f0;border:1px solid #f3c2c2}
.notice.ok{background:#effaf1;border:1px solid #bfe5c7}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * The Content-Security-Policy of every page: our own script and the one stylesheet, and fetch
 * calls only to ourselves and the tenant (the SDK's token calls, the only cross-origin ones).
 */
export function contentSecurityPolicy(tenantUrl: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'sha256-${STYLE_HASH}'`,
    `connect-src 'self' ${new URL(tenantUrl).origin}`,
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A small icon, so browsers do not log a 404 for `/favicon.ico`. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="4" fill="#3b5bdb"/></svg>';

function page(title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>${STYLE}</style>
${extraHead}</head>
<body>
<header><a href="/">Acme customer space</a><a class="muted" href="/funnel">Get access</a></header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** JSON that is safe inside a `<script>` element: no `<` can close it, no line separator breaks it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The customer space (`/`, `/login`, `/callback` alike): the app module does the rest. The
 * settings travel as inert JSON, which the CSP needs no exception for, unlike an inline script.
 */
export function spaPage(config: SpaConfig): string {
  return page(
    'Acme customer space',
    `<div id="app" aria-live="polite"><p class="muted">Loading…</p></div>
<noscript><p>The customer space needs JavaScript.</p></noscript>`,
    `<script type="application/json" id="spa-config">${scriptJson(config)}</script>
<script type="module" src="/assets/app.js"></script>
`,
  );
}

/** The funnel's last step: leave an email, get an invitation; `noticeHtml` goes under the heading. */
export function funnelFormPage(values: { email?: string; name?: string } = {}, noticeHtml = ''): string {
  return page(
    'Get access',
    `<h1>Leave your email to get access</h1>
${noticeHtml}<p class="muted">We will send you an invitation link. It signs you up, or into the account you already have.</p>
<form method="post" action="/funnel">
<label for="email">Email</label>
<input id="email" name="email" type="email" required autocomplete="email" maxlength="320" value="${escapeHtml(values.email ?? '')}" data-testid="funnel-email">
<label for="name">Name <span class="muted">(optional)</span></label>
<input id="name" name="name" type="text" autocomplete="name" maxlength="100" value="${escapeHtml(values.name ?? '')}" data-testid="funnel-name">
<button class="button" type="submit" data-testid="funnel-submit">Send me an invitation</button>
</form>`,
  );
}

/** The invitation is on its way (new, or already open for this email). */
export function funnelSentPage(opts: {
  email: string;
  inviteId: string;
  expiresAt?: string;
  alreadyOpen: boolean;
}): string {
  const expiry = opts.expiresAt ? new Date(opts.expiresAt) : undefined;
  const until =
    expiry && !Number.isNaN(expiry.getTime())
      ? `<p class="muted">The link is valid until ${escapeHtml(expiry.toUTCString())}.</p>`
      : '';
  const what = opts.alreadyOpen
    ? `An invitation was already on its way to <strong>${escapeHtml(opts.email)}</strong>; it still works.`
    : `We sent an invitation to <strong>${escapeHtml(opts.email)}</strong>.`;
  return page(
    'Check your inbox',
    `<div class="notice ok" data-testid="funnel-result" data-outcome="sent" data-invite-id="${escapeHtml(opts.inviteId)}">
<h1>Check your inbox</h1>
<p>${what} Open the link in it to get in.</p>
${until}</div>
<p><a href="/funnel">Use another email</a></p>`,
  );
}

/** The invitation could not be started: the API's code and message (or ours), and the form again. */
export function funnelErrorPage(opts: {
  code: string;
  message: string;
  problems?: string[];
  values: { email?: string; name?: string };
}): string {
  const problems = opts.problems?.length
    ? `<ul>${opts.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`
    : '';
  const result = `<div class="notice error" data-testid="funnel-result" data-outcome="error" data-code="${escapeHtml(opts.code)}">
<p><strong>We could not send the invitation.</strong> ${escapeHtml(opts.message)}</p>
${problems}<p class="muted">Code: <code>${escapeHtml(opts.code)}</code></p>
</div>
`;
  return funnelFormPage(opts.values, result);
}

/** A page that only says something went wrong (unknown path, wrong method, our own failure). */
export function messagePage(title: string, text: string): string {
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>\n<p><a href="/">Home</a></p>`,
  );
}
