/**
 * The customer space: a single-page app the demo server sends as-is (type-stripped). `/login`
 * starts the sign-in, `/callback` finishes it, `/` shows who is signed in and what the invite
 * granted. Everything from a token is put on the page with `textContent`, never as HTML.
 */
import {
  beginLogin,
  callbackState,
  checkIdToken,
  completeLogin,
  decodeJwtPayload,
  inviteErrorMessage,
  isInviteErrorCode,
  LoginError,
  logoutRedirect,
  sessionView,
} from './oidc.js';
import type { OidcSettings, PendingLogin, SessionView, TokenSet } from './oidc.js';

/** The settings the demo server writes into every page of the customer space. */
export type SpaConfig = OidcSettings;

// Keyed by state, so two tabs signing in at once do not overwrite each other's verifier.
const PENDING_PREFIX = 'inviteflow-demo:pending:';
// sessionStorage, not localStorage: the session ends with the tab, and other tabs cannot read it.
const TOKENS_KEY = 'inviteflow-demo:tokens';

type Child = Node | string | undefined | false;

function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

function readConfig(): SpaConfig {
  const text = document.getElementById('spa-config')?.textContent;
  if (!text) throw new Error('The page carries no configuration.');
  return JSON.parse(text) as SpaConfig;
}

function readJson<T>(key: string): T | undefined {
  const text = sessionStorage.getItem(key);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function show(root: HTMLElement, ...children: Child[]): void {
  root.replaceChildren(...children.filter((c): c is Node | string => c !== undefined && c !== false));
}

function inviteErrorNotice(code: string, loginHint?: string): HTMLElement {
  return h(
    'div',
    { class: 'notice error', 'data-testid': 'invite-error', 'data-code': code },
    h('p', {}, inviteErrorMessage(code)),
    loginHint !== undefined &&
      h(
        'p',
        {},
        'It is waiting for ',
        h('strong', {}, loginHint),
        '. Sign out, then open the link from that email again.',
      ),
    h('p', { class: 'muted' }, 'Code: ', h('code', {}, code)),
  );
}

function signedOut(root: HTMLElement, notice?: HTMLElement): void {
  show(
    root,
    h('h1', {}, 'Welcome to the customer space'),
    notice,
    h('p', { 'data-testid': 'signed-out' }, 'You are not signed in.'),
    h(
      'p',
      { class: 'actions' },
      h('a', { class: 'button', href: '/login', 'data-testid': 'sign-in' }, 'Sign in'),
      h(
        'a',
        { class: 'button secondary', href: '/login?screen_hint=signup', 'data-testid': 'sign-up' },
        'Sign up',
      ),
    ),
  );
}

function field(label: string, testId: string, value: string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', { 'data-testid': testId }, value)];
}

function signedIn(root: HTMLElement, config: SpaConfig, view: SessionView): void {
  const signOut = h(
    'button',
    { class: 'button secondary', type: 'button', 'data-testid': 'sign-out' },
    'Sign out',
  );
  signOut.addEventListener('click', () => {
    sessionStorage.removeItem(TOKENS_KEY);
    const target = logoutRedirect(config, window.location.origin);
    if (target) window.location.assign(target);
    else signedOut(root);
  });
  const who = h(
    'dl',
    {},
    ...field('Email', 'signed-in-email', view.email ?? '(none)'),
    ...field('User id', 'user-id', view.userId),
    ...(view.connection === undefined ? [] : field('Connection', 'connection', view.connection)),
  );
  const roles = h('ul', { 'data-testid': 'roles' }, ...view.roles.map((role) => h('li', {}, role)));
  const invite =
    view.invite &&
    h(
      'section',
      {},
      h('h2', {}, 'Invite'),
      h(
        'dl',
        {},
        ...field('Id', 'invite-id', view.invite.id),
        ...field('Scope', 'invite-scope', view.invite.scope),
      ),
    );
  const data =
    view.data !== undefined &&
    h(
      'section',
      {},
      h('h2', {}, 'Our data'),
      h('pre', { 'data-testid': 'data' }, JSON.stringify(view.data, null, 2)),
    );
  show(
    root,
    h('h1', {}, 'You are signed in'),
    view.inviteError !== undefined && inviteErrorNotice(view.inviteError, view.inviteLoginHint),
    who,
    h(
      'section',
      {},
      h('h2', {}, 'Roles'),
      roles,
      view.roles.length === 0 && h('p', { class: 'muted' }, 'No roles granted.'),
    ),
    invite,
    data,
    h('p', { class: 'actions' }, signOut),
  );
}

function home(root: HTMLElement, config: SpaConfig, notice?: HTMLElement): void {
  const tokens = readJson<TokenSet>(TOKENS_KEY);
  if (!tokens) return signedOut(root, notice);
  try {
    const claims = decodeJwtPayload(tokens.idToken);
    // The nonce was checked at the callback; a stored token is re-checked for expiry and origin.
    checkIdToken(claims, { issuer: config.issuer, clientId: config.clientId });
    signedIn(root, config, sessionView(claims, config.claimNamespace));
  } catch {
    sessionStorage.removeItem(TOKENS_KEY);
    signedOut(root, notice);
  }
}

async function login(root: HTMLElement, config: SpaConfig, url: URL): Promise<void> {
  show(root, h('p', { class: 'muted' }, 'Taking you to sign in…'));
  const { authorizeUrl, pending } = await beginLogin(config, url);
  sessionStorage.setItem(PENDING_PREFIX + pending.state, JSON.stringify(pending));
  window.location.assign(authorizeUrl);
}

async function callback(root: HTMLElement, config: SpaConfig, url: URL): Promise<void> {
  show(root, h('p', { class: 'muted' }, 'Signing you in…'));
  const state = callbackState(url);
  const pending = state === undefined ? undefined : readJson<PendingLogin>(PENDING_PREFIX + state);
  // A code is single-use and the verifier with it: whatever happens next, this login is over.
  if (state !== undefined) sessionStorage.removeItem(PENDING_PREFIX + state);
  // The code must not stay in the address bar or the history.
  window.history.replaceState(null, '', '/');
  try {
    const { tokens } = await completeLogin(config, pending, url);
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    home(root, config);
  } catch (err) {
    if (!(err instanceof LoginError)) throw err;
    const notice = isInviteErrorCode(err.code)
      ? inviteErrorNotice(err.code)
      : h(
          'div',
          { class: 'notice error', 'data-testid': 'login-error', 'data-code': err.code },
          h('p', {}, err.message),
          h('p', { class: 'muted' }, 'Code: ', h('code', {}, err.code)),
        );
    sessionStorage.removeItem(TOKENS_KEY);
    signedOut(root, notice);
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  try {
    const config = readConfig();
    const url = new URL(window.location.href);
    if (url.pathname === '/login') await login(root, config, url);
    else if (url.pathname === '/callback') await callback(root, config, url);
    else home(root, config);
  } catch (err) {
    show(
      root,
      h(
        'div',
        { class: 'notice error', 'data-testid': 'app-error' },
        h('p', {}, `Something went wrong: ${String(err)}`),
      ),
    );
  }
}

void main();
