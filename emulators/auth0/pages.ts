// HTML of the emulated Universal Login, the emulated social identity providers and error pages.
// Plain forms with labelled fields and stable `id`/`name`/`data-testid` attributes, so people and
// browser tests can drive them; no script is needed anywhere.
import type { SocialConnection } from './store';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** The languages the emulated tenant has enabled for Universal Login; the first is the default. */
export const LOGIN_LOCALES = ['en', 'fr'] as const;

/** A Universal Login language. */
export type LoginLocale = (typeof LOGIN_LOCALES)[number];

/**
 * The page language as Universal Login picks it: the first of `ui_locales` the tenant enabled,
 * else the browser's first enabled language (`Accept-Language`), else the tenant default.
 */
export function pickLoginLocale(
  uiLocales: string | undefined,
  acceptLanguage: string | undefined,
): LoginLocale {
  const enabled = (tag: string): LoginLocale | undefined => {
    const base = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
    return (LOGIN_LOCALES as readonly string[]).includes(base) ? (base as LoginLocale) : undefined;
  };
  for (const tag of (uiLocales ?? '').split(' ')) {
    const found = enabled(tag);
    if (found) return found;
  }
  if (uiLocales === undefined || uiLocales.trim() === '') {
    for (const part of (acceptLanguage ?? '').split(',')) {
      const found = enabled(part.split(';')[0] ?? '');
      if (found) return found;
    }
  }
  return LOGIN_LOCALES[0];
}

// Universal Login's own wording in each enabled language.
const TEXT = {
  en: {
    banner: 'Auth0 emulator — not a real login',
    loginTitle: 'Log in',
    welcome: 'Welcome',
    loginLead: (app: string) => `Log in to ${app} to continue.`,
    email: 'Email address',
    password: 'Password',
    continue: 'Continue',
    noAccount: "Don't have an account?",
    signUp: 'Sign up',
    signupTitle: 'Sign up',
    createAccount: 'Create your account',
    signupLead: (app: string) => `Sign up to ${app} to continue.`,
    passwordHint: 'At least 8 characters.',
    haveAccount: 'Already have an account?',
    logIn: 'Log in',
    or: 'OR',
    continueWith: (idp: string) => `Continue with ${idp}`,
  },
  fr: {
    banner: 'Émulateur Auth0 — pas une vraie connexion',
    loginTitle: 'Connexion',
    welcome: 'Bienvenue',
    loginLead: (app: string) => `Connectez-vous à ${app} pour continuer.`,
    email: 'Adresse e-mail',
    password: 'Mot de passe',
    continue: 'Continuer',
    noAccount: "Vous n'avez pas de compte ?",
    signUp: 'Inscription',
    signupTitle: 'Inscription',
    createAccount: 'Créez votre compte',
    signupLead: (app: string) => `Inscrivez-vous à ${app} pour continuer.`,
    passwordHint: 'Au moins 8 caractères.',
    haveAccount: 'Vous avez déjà un compte ?',
    logIn: 'Connexion',
    or: 'OU',
    continueWith: (idp: string) => `Continuer avec ${idp}`,
  },
} satisfies Record<LoginLocale, unknown>;

/** The login pages' error messages in each enabled language. */
export const LOGIN_ERRORS = {
  en: {
    wrongCredentials: 'Wrong email or password.',
    blocked: 'Your account has been blocked.',
    invalidEmail: 'Email is not valid.',
    weakPassword: (min: number) => `Password is too weak: use at least ${min} characters.`,
    userExists: 'The user already exists.',
  },
  fr: {
    wrongCredentials: 'Adresse e-mail ou mot de passe incorrect.',
    blocked: 'Votre compte a été bloqué.',
    invalidEmail: "L'adresse e-mail n'est pas valide.",
    weakPassword: (min: number) => `Mot de passe trop faible : utilisez au moins ${min} caractères.`,
    userExists: "L'utilisateur existe déjà.",
  },
} satisfies Record<LoginLocale, unknown>;

/** Display names of the social connections. */
export const SOCIAL_LABELS: Record<SocialConnection, string> = {
  'google-oauth2': 'Google',
  facebook: 'Facebook',
};

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; color: #1f2937; }
  main { max-width: 400px; margin: 48px auto; background: #fff; padding: 32px 40px; border-radius: 8px;
         box-shadow: 0 1px 4px rgba(0,0,0,.12); }
  h1 { font-size: 24px; margin: 0 0 8px; text-align: center; }
  p.lead { text-align: center; margin: 0 0 24px; color: #4b5563; }
  label { display: block; font-size: 14px; margin: 12px 0 4px; }
  input[type=email], input[type=password], input[type=text] { width: 100%; box-sizing: border-box; padding: 10px;
         border: 1px solid #9ca3af; border-radius: 4px; font-size: 16px; }
  button { width: 100%; padding: 12px; margin-top: 16px; border: 0; border-radius: 4px; font-size: 16px;
           cursor: pointer; background: #4f46e5; color: #fff; }
  button.social { background: #fff; color: #1f2937; border: 1px solid #9ca3af; margin-top: 8px; }
  .error { background: #fef2f2; color: #b91c1c; padding: 8px 12px; border-radius: 4px; margin: 12px 0; }
  .hint { font-size: 13px; color: #6b7280; margin-top: 4px; }
  .switch { text-align: center; font-size: 14px; margin-top: 16px; }
  .or { text-align: center; margin: 20px 0 4px; color: #6b7280; font-size: 13px; }
  .banner { text-align: center; font-size: 12px; color: #6b7280; margin-bottom: 16px; }
`;

function layout(title: string, body: string, locale: LoginLocale = 'en'): string {
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="banner">${TEXT[locale].banner}</p>
${body}
</main>
</body>
</html>`;
}

function errorBox(error: string | undefined): string {
  return error === undefined
    ? ''
    : `<p class="error" role="alert" id="error-message" data-testid="error-message">${escapeHtml(error)}</p>`;
}

function socialButtons(state: string, connections: readonly SocialConnection[], locale: LoginLocale): string {
  if (connections.length === 0) return '';
  const t = TEXT[locale];
  const buttons = connections
    .map(
      (connection) => `<form method="post" action="/u/login">
<input type="hidden" name="state" value="${escapeHtml(state)}">
<input type="hidden" name="connection" value="${escapeHtml(connection)}">
<button type="submit" class="social" data-testid="social-${escapeHtml(connection)}">${escapeHtml(t.continueWith(SOCIAL_LABELS[connection]))}</button>
</form>`,
    )
    .join('\n');
  return `<p class="or">${t.or}</p>\n${buttons}`;
}

/** What the login and sign-up pages show. */
export interface LoginPageInput {
  /** The transaction id, posted back in the hidden `state` field as Universal Login does. */
  state: string;
  /** The application's name (its `name` in the tenant), as Universal Login shows it. */
  clientName: string;
  locale: LoginLocale;
  email?: string;
  error?: string;
  connections: readonly SocialConnection[];
}

/** The "Log in" page: email and password, a link to sign up, social buttons. */
export function loginPage(input: LoginPageInput): string {
  const state = escapeHtml(input.state);
  const t = TEXT[input.locale];
  return layout(
    `${t.loginTitle} | ${input.clientName}`,
    `<h1>${t.welcome}</h1>
<p class="lead">${escapeHtml(t.loginLead(input.clientName))}</p>
${errorBox(input.error)}
<form method="post" action="/u/login" data-testid="login-form">
<input type="hidden" name="state" value="${state}">
<label for="username">${t.email}</label>
<input id="username" name="username" type="email" autocomplete="username" required value="${escapeHtml(input.email ?? '')}">
<label for="password">${t.password}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="default" data-testid="login-submit">${t.continue}</button>
</form>
<p class="switch">${escapeHtml(t.noAccount)} <a href="/u/signup?state=${state}" data-testid="signup-link">${t.signUp}</a></p>
${socialButtons(input.state, input.connections, input.locale)}`,
    input.locale,
  );
}

/** The "Sign up" page: email and password, a link to log in, social buttons. */
export function signupPage(input: LoginPageInput): string {
  const state = escapeHtml(input.state);
  const t = TEXT[input.locale];
  return layout(
    `${t.signupTitle} | ${input.clientName}`,
    `<h1>${t.createAccount}</h1>
<p class="lead">${escapeHtml(t.signupLead(input.clientName))}</p>
${errorBox(input.error)}
<form method="post" action="/u/signup" data-testid="signup-form">
<input type="hidden" name="state" value="${state}">
<label for="email">${t.email}</label>
<input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(input.email ?? '')}">
<label for="signup-password">${t.password}</label>
<input id="signup-password" name="password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="password-hint">
<p class="hint" id="password-hint">${t.passwordHint}</p>
<button type="submit" name="action" value="default" data-testid="signup-submit">${t.continue}</button>
</form>
<p class="switch">${escapeHtml(t.haveAccount)} <a href="/u/login?state=${state}" data-testid="login-link">${t.logIn}</a></p>
${socialButtons(input.state, input.connections, input.locale)}`,
    input.locale,
  );
}

/** The emulated identity provider: the tester picks or types the social account's email and name. */
export function identityProviderPage(input: {
  connection: SocialConnection;
  state: string;
  accounts: { email: string; name: string }[];
  error?: string;
}): string {
  const label = SOCIAL_LABELS[input.connection];
  const action = `/emulated-idp/${escapeHtml(input.connection)}/authorize`;
  const state = escapeHtml(input.state);
  const accounts = input.accounts
    .map(
      (account) => `<form method="post" action="${action}">
<input type="hidden" name="state" value="${state}">
<input type="hidden" name="email" value="${escapeHtml(account.email)}">
<input type="hidden" name="name" value="${escapeHtml(account.name)}">
<button type="submit" class="social" data-testid="idp-account">${escapeHtml(account.name)} &lt;${escapeHtml(account.email)}&gt;</button>
</form>`,
    )
    .join('\n');
  return layout(
    `Sign in with ${label}`,
    `<h1>Sign in with ${label}</h1>
<p class="lead">Emulated ${label} account chooser. The account's email is verified by ${label}.</p>
${errorBox(input.error)}
${accounts === '' ? '' : `<p class="or">Choose an account</p>\n${accounts}\n<p class="or">or use another account</p>`}
<form method="post" action="${action}" data-testid="idp-form">
<input type="hidden" name="state" value="${state}">
<label for="idp-email">${label} account email</label>
<input id="idp-email" name="email" type="email" required>
<label for="idp-name">Name</label>
<input id="idp-name" name="name" type="text" autocomplete="name">
<button type="submit" data-testid="idp-submit">Continue as this ${label} account</button>
</form>`,
  );
}

/** An error page for what cannot be sent back to the application. */
export function errorPage(title: string, description: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p class="error" role="alert" id="error-message" data-testid="error-message">${escapeHtml(description)}</p>`,
  );
}

/** The page `/v2/logout` shows when there is no `returnTo`. */
export function loggedOutPage(): string {
  return layout('Logged out', '<h1>You are logged out</h1><p class="lead">You can close this window.</p>');
}
