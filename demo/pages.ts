/**
 * The demo's HTML: the customer-space shell (the browser module fills it in), the funnel form and
 * its outcomes. Server-rendered text goes through `escapeHtml`; the customer space renders tokens
 * itself with `textContent`. One inline stylesheet, allowed by its hash in the CSP.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from '../lib/html';
import { formatDateTime } from '../lib/locale';
import type { SupportedLocale } from '../lib/locale';
import type { SpaConfig } from './browser/app';
import { TEXT as SPACE_TEXT } from './browser/session';
import type { FunnelErrors, FunnelFailure, FunnelField, FunnelFieldProblem } from './funnel';

const STYLE = `
:root{color-scheme:light}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d1f24}
header{background:#1d1f24;color:#fff;padding:14px 24px;font-weight:600}
header a{color:#fff;text-decoration:none;margin-right:18px}
header a.muted{color:#aab0bf;font-weight:400}
main{max-width:560px;margin:6vh auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 16px}
h2{font-size:16px;margin:24px 0 8px}
h3{font-size:14px;margin:12px 0 6px;color:#3d4150}
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
.button{display:inline-block;background:#3b5bdb;color:#fff;text-decoration:none;border:0;border-radius:8px;padding:11px 20px;font:inherit;cursor:pointer;max-width:100%;box-sizing:border-box;overflow-wrap:anywhere}
.button.secondary{background:#e7e9f0;color:#1d1f24}
.notice{border-radius:8px;padding:12px 14px 0;margin:0 0 16px;overflow-wrap:anywhere}
.notice.error{background:#fff0f0;border:1px solid #f3c2c2}
.notice.ok{background:#effaf1;border:1px solid #bfe5c7}
.notice:focus{outline:3px solid #3b5bdb;outline-offset:2px}
.notice ul{margin:0 0 12px}
.notice h2{margin:0 0 8px}
.notice a{color:#a01c1c}
.field-error{color:#a01c1c;font-size:14px;font-weight:600;margin:0 0 6px}
.sr-only{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
input[aria-invalid="true"]{border:2px solid #c92a2a}
@media (max-width:600px){main{margin:0;border-radius:0;box-shadow:none;padding:24px 18px}}
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

/** A whole page of the demo, under the header the customer space shares (named after `appName`). */
function page(appName: string, title: string, body: string, extraHead = '', lang: SupportedLocale = 'en'): string {
  // The customer space's own words, so the header reads the same on every page of the demo.
  const space = SPACE_TEXT[lang];
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>${STYLE}</style>
${extraHead}</head>
<body>
<header><a href="/">${escapeHtml(space.title(appName))}</a><a class="muted" href="/funnel">${escapeHtml(space.getAccess)}</a></header>
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
    config.appName,
    SPACE_TEXT.en.title(config.appName),
    `<div id="app" aria-live="polite"><p class="muted">Loading…</p></div>
<noscript><p>The customer space needs JavaScript.</p></noscript>`,
    `<script type="application/json" id="spa-config">${scriptJson(config)}</script>
<script type="module" src="/assets/app.js"></script>
`,
  );
}

const FUNNEL_TEXT = {
  en: {
    title: SPACE_TEXT.en.getAccess,
    heading: 'Leave your email to get access',
    intro: 'We will send you an invitation link. It signs you up, or into the account you already have.',
    email: 'Email',
    name: 'Name',
    optional: '(optional)',
    submit: 'Send me an invitation',
    errorPrefix: 'Error:',
    problemTitle: 'There is a problem',
    fields: {
      email: {
        required: 'Enter your email address.',
        invalid: 'Enter an email address in the right format, like name@example.com.',
        too_long: 'Enter an email address of at most 254 characters.',
      },
      name: {
        required: 'Enter your name.',
        invalid: 'Enter your name as plain text.',
        too_long: 'Enter a name of at most 100 characters.',
      },
    } satisfies Record<FunnelField, Record<FunnelFieldProblem, string>>,
    failures: {
      unavailable: 'We could not send the invitation: the invitation service is not answering right now. Please try again in a moment.',
      rate_limited: 'Too many attempts in a short time. Please wait a minute and try again.',
      rejected: 'We could not send the invitation with what you entered. Check it and try again.',
      form: 'We could not read the form. Please try again.',
    } satisfies Record<FunnelFailure, string>,
    code: SPACE_TEXT.en.code,
    sentTitle: 'Check your inbox',
    sent: (email: string) => `We sent an invitation to <strong>${email}</strong>. Open the link in it to get in.`,
    alreadyOpen: (email: string) => `An invitation was already on its way to <strong>${email}</strong>; it still works. Open the link in it to get in.`,
    validUntil: (date: string) => `The link is valid until ${date}.`,
    another: 'Use another email',
  },
  fr: {
    title: SPACE_TEXT.fr.getAccess,
    heading: 'Laissez votre e-mail pour obtenir l’accès',
    intro: 'Nous vous enverrons un lien d’invitation. Il crée votre compte, ou vous connecte à celui que vous avez déjà.',
    email: 'E-mail',
    name: 'Nom',
    optional: '(facultatif)',
    submit: 'Recevoir une invitation',
    errorPrefix: 'Erreur\u00a0:',
    problemTitle: 'Un problème est survenu',
    fields: {
      email: {
        required: 'Saisissez votre adresse e-mail.',
        invalid: 'Saisissez une adresse e-mail au bon format, par exemple nom@exemple.fr.',
        too_long: 'Saisissez une adresse e-mail de 254 caractères au plus.',
      },
      name: {
        required: 'Saisissez votre nom.',
        invalid: 'Saisissez votre nom en texte simple.',
        too_long: 'Saisissez un nom de 100 caractères au plus.',
      },
    } satisfies Record<FunnelField, Record<FunnelFieldProblem, string>>,
    failures: {
      unavailable: 'L’invitation n’a pas pu être envoyée\u00a0: le service d’invitation ne répond pas pour le moment. Merci de réessayer dans un instant.',
      rate_limited: 'Trop de tentatives en peu de temps. Merci de patienter une minute avant de réessayer.',
      rejected: 'L’invitation n’a pas pu être envoyée avec ces informations. Vérifiez-les et réessayez.',
      form: 'Le formulaire n’a pas pu être lu. Merci de réessayer.',
    } satisfies Record<FunnelFailure, string>,
    code: SPACE_TEXT.fr.code,
    sentTitle: 'Consultez votre boîte de réception',
    sent: (email: string) => `Une invitation a été envoyée à <strong>${email}</strong>. Ouvrez le lien qu’elle contient pour accéder à votre espace.`,
    alreadyOpen: (email: string) => `Une invitation était déjà en route vers <strong>${email}</strong>\u00a0; elle reste valable. Ouvrez le lien qu’elle contient pour accéder à votre espace.`,
    validUntil: (date: string) => `Le lien est valable jusqu’au ${date}.`,
    another: 'Utiliser une autre adresse',
  },
} satisfies Record<SupportedLocale, unknown>;

const FIELDS: FunnelField[] = ['email', 'name'];

/**
 * The funnel's last step: leave an email, get an invitation. With `errors`, the page opens on an
 * error summary that takes the focus (so a screen reader reads it first) and links to each field
 * in trouble; each such field is `aria-invalid` and described by its own message. The form does
 * not use the browser's own validation, whose messages would not be in the page's language.
 */
export function funnelFormPage(appName: string, locale: SupportedLocale, values: { email?: string; name?: string } = {}, errors?: FunnelErrors): string {
  const t = FUNNEL_TEXT[locale];
  const fieldErrors = errors?.fields ?? {};
  const messageOf = (field: FunnelField) => {
    const problem = fieldErrors[field];
    return problem ? t.fields[field][problem] : undefined;
  };
  const items = [
    ...(errors?.failure ? [`<li>${escapeHtml(t.failures[errors.failure])}</li>`] : []),
    ...FIELDS.flatMap((field) => {
      const message = messageOf(field);
      return message ? [`<li><a href="#${field}">${escapeHtml(message)}</a></li>`] : [];
    }),
  ];
  const summary = errors
    ? `<div class="notice error" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" data-testid="funnel-result" data-outcome="error" data-code="${escapeHtml(errors.code)}">
<h2 id="error-summary-title">${escapeHtml(t.problemTitle)}</h2>
<ul>${items.join('')}</ul>
<p class="muted">${escapeHtml(t.code)}<code>${escapeHtml(errors.code)}</code></p>
</div>
`
    : '';
  const field = (name: FunnelField, input: string, label: string) => {
    const message = messageOf(name);
    const error = message
      ? `<p class="field-error" id="${name}-error" data-testid="funnel-${name}-error"><span class="sr-only">${escapeHtml(t.errorPrefix)} </span>${escapeHtml(message)}</p>\n`
      : '';
    const aria = message ? ` aria-invalid="true" aria-describedby="${name}-error"` : '';
    return `<label for="${name}">${label}</label>\n${error}${input.replace('<input ', `<input${aria} `)}`;
  };
  return page(
    appName,
    t.title,
    `<h1>${escapeHtml(t.heading)}</h1>
${summary}<p class="muted">${escapeHtml(t.intro)}</p>
<form method="post" action="/funnel" novalidate>
${field('email', `<input id="email" name="email" type="email" autocomplete="email" maxlength="320" value="${escapeHtml(values.email ?? '')}" data-testid="funnel-email">`, escapeHtml(t.email))}
${field('name', `<input id="name" name="name" type="text" autocomplete="name" maxlength="100" value="${escapeHtml(values.name ?? '')}" data-testid="funnel-name">`, `${escapeHtml(t.name)} <span class="muted">${escapeHtml(t.optional)}</span>`)}
<button class="button" type="submit" data-testid="funnel-submit">${escapeHtml(t.submit)}</button>
</form>`,
    '',
    locale,
  );
}

/** The invitation is on its way (new, or already open for this email); the expiry in the invitee's time zone. */
export function funnelSentPage(opts: {
  appName: string;
  locale: SupportedLocale;
  email: string;
  inviteId: string;
  expiresAt?: string;
  timeZone?: string;
  alreadyOpen: boolean;
}): string {
  const t = FUNNEL_TEXT[opts.locale];
  const expiry = opts.expiresAt ? new Date(opts.expiresAt) : undefined;
  const until =
    expiry && !Number.isNaN(expiry.getTime())
      ? `<p class="muted" data-testid="funnel-expiry">${escapeHtml(t.validUntil(formatDateTime(expiry, opts.locale, opts.timeZone)))}</p>\n`
      : '';
  const email = escapeHtml(opts.email);
  return page(
    opts.appName,
    t.sentTitle,
    `<div class="notice ok" data-testid="funnel-result" data-outcome="sent" data-invite-id="${escapeHtml(opts.inviteId)}">
<h1>${escapeHtml(t.sentTitle)}</h1>
<p>${opts.alreadyOpen ? t.alreadyOpen(email) : t.sent(email)}</p>
${until}</div>
<p><a href="/funnel">${escapeHtml(t.another)}</a></p>`,
    '',
    opts.locale,
  );
}

/** A page that only says something went wrong (unknown path, wrong method, our own failure). */
export function messagePage(appName: string, title: string, text: string): string {
  return page(
    appName,
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>\n<p><a href="/">Home</a></p>`,
  );
}
