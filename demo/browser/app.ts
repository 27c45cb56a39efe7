/**
 * The customer space: a single-page app signing in with Auth0's own SPA SDK
 * (`@auth0/auth0-spa-js`), as Auth0 customers' apps do. `/login` starts the sign-in (carrying an
 * invite when the landing page sent one), `/callback` finishes it, `/` shows who is signed in and
 * what the invite granted (roles, our data, the HubSpot contact and its properties), or, when the
 * invite was refused, which address it is for and the one control that fixes it. Everything from a token is put on the page with `textContent`.
 */
import { Auth0Client, AuthenticationError } from '@auth0/auth0-spa-js';
import {
  inviteErrorMessage,
  inviteLoginUrl,
  isInviteErrorCode,
  isPendingInvite,
  loginRequest,
  pickLocale,
  remedyFor,
  sessionView,
  TEXT,
} from './session';
import type { Locale, LoginAppState, PendingInvite, SessionView, Texts } from './session';

/** The settings the demo server writes into every page of the customer space. */
export interface SpaConfig {
  /** Where the browser reaches the tenant: `https://<domain>`, or the emulator's URL. */
  domain: string;
  /** The `iss` of the tenant's tokens (`https://<domain>/`), when it differs from `domain`. */
  issuer: string;
  /** The customer space's (public) client id. */
  clientId: string;
  /** API audience to request an access token for. */
  audience?: string;
  /** Prefix of our custom claims, e.g. `https://inviteflow.dev/`. */
  claimNamespace: string;
  /** The product's name, shown in the page title. */
  appName: string;
}

// The invite of the latest login, kept for the tab (sessionStorage) so a refused invite can be
// retried or switched to the right account after a reload.
const INVITE_KEY = 'inviteflow-demo:invite';
// The language of the latest invite, so the customer space keeps speaking it after the login.
const LOCALE_KEY = 'inviteflow-demo:locale';

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

function show(root: HTMLElement, ...children: Child[]): void {
  root.replaceChildren(...children.filter((c): c is Node | string => c !== undefined && c !== false));
}

function readConfig(): SpaConfig {
  const text = document.getElementById('spa-config')?.textContent;
  if (!text) throw new Error('The page carries no configuration.');
  return JSON.parse(text) as SpaConfig;
}

function storedInvite(): PendingInvite | undefined {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(INVITE_KEY) ?? 'null');
    return isPendingInvite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function keepInvite(invite: PendingInvite | undefined): void {
  if (invite) sessionStorage.setItem(INVITE_KEY, JSON.stringify(invite));
  else sessionStorage.removeItem(INVITE_KEY);
}

/** The app: the SDK client, the language and the root element. */
interface Ctx {
  config: SpaConfig;
  auth0: Auth0Client;
  root: HTMLElement;
  locale: Locale;
  t: Texts;
}

function setLocale(ctx: Ctx, locale: Locale, remember = false): void {
  if (remember) sessionStorage.setItem(LOCALE_KEY, locale);
  ctx.locale = locale;
  ctx.t = TEXT[locale];
  document.documentElement.lang = locale;
  document.title = ctx.t.title(ctx.config.appName);
  // The shell's header is the server's; its words follow the page's language too.
  const home = document.querySelector('header a[href="/"]');
  if (home) home.textContent = ctx.t.title(ctx.config.appName);
  const funnel = document.querySelector('header a[href="/funnel"]');
  if (funnel) funnel.textContent = ctx.t.getAccess;
}

/** Starts a login for `invite` at the tenant, as `/login?invite=…` does. */
async function loginWithInvite(ctx: Ctx, invite: PendingInvite, address?: string): Promise<void> {
  const { authorizationParams } = loginRequest(
    new URL(inviteLoginUrl(window.location.origin, invite, address)),
  );
  await ctx.auth0.loginWithRedirect<LoginAppState>({ authorizationParams, appState: { invite } });
}

/**
 * The notice of a refused or failed invite, in the invite's language, with at most one control:
 * for another account, sign out of it at the tenant and come back to a fresh login for the
 * invited address (`/login?invite=…&login_hint=…`, which asks for `prompt=login`); when the
 * check could not be made, sign in again with the invite.
 */
function inviteNotice(
  ctx: Ctx,
  code: string,
  invite: PendingInvite | undefined,
  view?: SessionView,
): HTMLElement {
  const { t } = ctx;
  const remedy = invite ? remedyFor(code) : 'none';
  const address = view?.inviteLoginHint ?? invite?.loginHint;
  const lines: Child[] = [];
  if (code === 'invite_email_mismatch') {
    if (address) {
      lines.push(h('p', { 'data-testid': 'invite-for' }, t.inviteFor(address)));
      lines.push(h('p', {}, view?.email ? t.signedInAs(view.email) : t.mismatchNoAddress));
    } else {
      // Without the address, the one sentence says what to do.
      lines.push(h('p', {}, inviteErrorMessage(code, ctx.locale)));
    }
  } else {
    lines.push(h('p', {}, inviteErrorMessage(code, ctx.locale)));
  }
  let control: HTMLElement | undefined;
  if (remedy === 'switch-account' && invite) {
    control = h(
      'button',
      { class: 'button', type: 'button', 'data-testid': 'switch-account' },
      address ? t.switchTo(address) : t.switchGeneric,
    );
    control.addEventListener('click', () => {
      keepInvite(undefined);
      // The tenant's session belongs to the refused account: end it there, then come back to a
      // login for the invited address with the invite still attached.
      void ctx.auth0.logout({
        logoutParams: { returnTo: inviteLoginUrl(window.location.origin, invite, address) },
      });
    });
    // Denied logins come back without a session; there is nothing to sign out of first.
    lines.push(control, h('p', { class: 'muted' }, view ? t.switchExplains : t.stillValid));
  } else if (remedy === 'retry' && invite) {
    control = h('button', { class: 'button', type: 'button', 'data-testid': 'retry-invite' }, t.retry);
    control.addEventListener('click', () => void loginWithInvite(ctx, invite));
    lines.push(control, h('p', { class: 'muted' }, t.retryExplains));
  }
  return h(
    'div',
    { class: 'notice error', role: 'alert', 'data-testid': 'invite-error', 'data-code': code },
    ...lines,
    h('p', { class: 'muted' }, t.code, h('code', {}, code)),
  );
}

function loginErrorNotice(ctx: Ctx, code: string, description: string): HTMLElement {
  return h(
    'div',
    { class: 'notice error', role: 'alert', 'data-testid': 'login-error', 'data-code': code },
    h('p', {}, ctx.t.loginFailed, ' ', description),
    h('p', { class: 'muted' }, ctx.t.code, h('code', {}, code)),
  );
}

function signedOut(ctx: Ctx, notice?: HTMLElement): void {
  const { t } = ctx;
  show(
    ctx.root,
    h('h1', {}, t.welcome),
    notice,
    h('p', { 'data-testid': 'signed-out' }, t.signedOut),
    h(
      'p',
      { class: 'actions' },
      h('a', { class: 'button', href: '/login', 'data-testid': 'sign-in' }, t.signIn),
      h(
        'a',
        { class: 'button secondary', href: '/login?screen_hint=signup', 'data-testid': 'sign-up' },
        t.signUp,
      ),
    ),
  );
}

function field(label: string, testId: string, value: string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', { 'data-testid': testId }, value)];
}

function signedIn(ctx: Ctx, view: SessionView, invite: PendingInvite | undefined): void {
  const { t } = ctx;
  const signOut = h(
    'button',
    { class: 'button secondary', type: 'button', 'data-testid': 'sign-out' },
    t.signOut,
  );
  signOut.addEventListener('click', () => {
    keepInvite(undefined);
    void ctx.auth0.logout({ logoutParams: { returnTo: window.location.origin } });
  });
  const invited =
    view.invite &&
    h(
      'section',
      {},
      h('h2', {}, t.invite),
      h(
        'dl',
        {},
        ...field(t.inviteId, 'invite-id', view.invite.id),
        ...field(t.inviteScope, 'invite-scope', view.invite.scope),
      ),
    );
  show(
    ctx.root,
    h('h1', {}, t.signedIn),
    view.inviteError !== undefined && inviteNotice(ctx, view.inviteError, invite, view),
    h(
      'dl',
      {},
      ...field(t.email, 'signed-in-email', view.email ?? t.none),
      ...field(t.userId, 'user-id', view.userId),
      ...(view.connection === undefined ? [] : field(t.connection, 'connection', view.connection)),
    ),
    h(
      'section',
      {},
      h('h2', {}, t.roles),
      h('ul', { 'data-testid': 'roles' }, ...view.roles.map((role) => h('li', {}, role))),
      view.roles.length === 0 && h('p', { class: 'muted' }, t.noRoles),
    ),
    invited,
    crmSection(t, view),
    view.data !== undefined &&
      h(
        'section',
        {},
        h('h2', {}, t.data),
        h('pre', { 'data-testid': 'data' }, JSON.stringify(view.data, null, 2)),
      ),
    h('p', { class: 'actions' }, signOut),
  );
}

/** The HubSpot contact and the properties of it the invite bound, when the token carries them. */
function crmSection(t: Texts, view: SessionView): HTMLElement | undefined {
  if (view.contactId === undefined && view.crm === undefined) return undefined;
  const properties = Object.entries(view.crm ?? {});
  return h(
    'section',
    { 'data-testid': 'crm' },
    h('h2', {}, t.crm),
    view.contactId !== undefined && h('dl', {}, ...field(t.contactId, 'contact-id', view.contactId)),
    properties.length > 0 && h('h3', {}, t.crmProperties),
    properties.length > 0 &&
      h(
        'dl',
        { 'data-testid': 'crm-properties' },
        ...properties.flatMap(([name, value]) => [
          h('dt', {}, name),
          h('dd', { 'data-property': name }, value ?? t.crmEmpty),
        ]),
      ),
  );
}

async function home(ctx: Ctx): Promise<void> {
  const invite = storedInvite();
  if (invite) setLocale(ctx, invite.locale, true);
  const claims = (await ctx.auth0.isAuthenticated()) ? await ctx.auth0.getIdTokenClaims() : undefined;
  if (!claims) return signedOut(ctx);
  const view = sessionView(claims, ctx.config.claimNamespace);
  // A redeemed invite needs nothing more; a refused one stays for its control.
  if (view.inviteError === undefined) keepInvite(undefined);
  signedIn(ctx, view, invite);
}

async function login(ctx: Ctx, url: URL): Promise<void> {
  const { authorizationParams, invite } = loginRequest(url, navigator.languages);
  if (invite) setLocale(ctx, invite.locale);
  show(ctx.root, h('p', { class: 'muted' }, ctx.t.redirecting));
  await ctx.auth0.loginWithRedirect<LoginAppState>({
    authorizationParams,
    ...(invite ? { appState: { invite } } : {}),
  });
}

async function callback(ctx: Ctx): Promise<void> {
  show(ctx.root, h('p', { class: 'muted' }, ctx.t.finishing));
  try {
    const { appState } = await ctx.auth0.handleRedirectCallback<LoginAppState>();
    keepInvite(isPendingInvite(appState?.invite) ? appState.invite : undefined);
    // The code must not stay in the address bar or the history.
    window.history.replaceState(null, '', '/');
    await home(ctx);
  } catch (err) {
    window.history.replaceState(null, '', '/');
    if (!(err instanceof AuthenticationError)) {
      keepInvite(undefined);
      const code =
        err instanceof Error && 'error' in err && typeof err.error === 'string' ? err.error : 'login_failed';
      return signedOut(ctx, loginErrorNotice(ctx, code, err instanceof Error ? err.message : String(err)));
    }
    const state = err.appState as LoginAppState | undefined;
    const invite = isPendingInvite(state?.invite) ? state.invite : undefined;
    keepInvite(undefined);
    if (invite) setLocale(ctx, invite.locale);
    // The Action's `deny` policy: the refusal code is the description of access_denied.
    if (err.error === 'access_denied' && isInviteErrorCode(err.error_description))
      return signedOut(ctx, inviteNotice(ctx, err.error_description, invite));
    signedOut(ctx, loginErrorNotice(ctx, err.error, err.error_description));
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  const config = readConfig();
  const ctx: Ctx = {
    config,
    root,
    locale: 'en',
    t: TEXT.en,
    auth0: new Auth0Client({
      domain: config.domain,
      issuer: config.issuer,
      clientId: config.clientId,
      authorizationParams: {
        redirect_uri: `${window.location.origin}/callback`,
        ...(config.audience ? { audience: config.audience } : {}),
      },
      // Refresh tokens with rotation instead of a hidden iframe to the tenant (third-party
      // cookies); kept in localStorage so a reload or a new tab stays signed in.
      cacheLocation: 'localstorage',
      useRefreshTokens: true,
    }),
  };
  setLocale(ctx, pickLocale(sessionStorage.getItem(LOCALE_KEY) ?? undefined, ...navigator.languages));
  try {
    const url = new URL(window.location.href);
    if (url.pathname === '/login') await login(ctx, url);
    else if (url.pathname === '/callback') await callback(ctx);
    else await home(ctx);
  } catch (err) {
    show(
      root,
      h(
        'div',
        { class: 'notice error', role: 'alert', 'data-testid': 'app-error' },
        h('p', {}, `${ctx.t.somethingWrong} ${String(err)}`),
      ),
    );
  }
}

void main();
