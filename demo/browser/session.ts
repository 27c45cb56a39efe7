/**
 * What the customer space decides without a DOM: which `/authorize` parameters a `/login` URL
 * carries on, the pending invite it keeps across the login (spa-js `appState`), the language a
 * person is spoken to in, and what an ID token's claims say. Runs in the browser and in Node.
 */
import { CLAIMS, claimName } from '../../lib/action-contract';
import { chooseLocale, SUPPORTED_LOCALES } from '../../lib/locale';
import type { SupportedLocale } from '../../lib/locale';

/** The customer space's languages: the invitee pages' (`lib/locale.ts`); anything else falls back to `en`. */
export const LOCALES = SUPPORTED_LOCALES;

/** A customer-space language. */
export type Locale = SupportedLocale;

/** An invite being carried through a login: enough to start that login again. */
export interface PendingInvite {
  /** The link token, forwarded to `/authorize` as `invite`. */
  token: string;
  /** The invited address from the landing page (a hint; the Action's claim is authoritative). */
  loginHint?: string;
  /** `signup` when the landing page found no account for the address. */
  screenHint?: string;
  /** The invite's language. */
  locale: Locale;
}

/** What travels through Auth0 in spa-js `appState` and comes back at the callback. */
export interface LoginAppState {
  invite?: PendingInvite;
}

/** The first supported language among `tags` (BCP 47, most preferred first), else `en`. */
export function pickLocale(...tags: (string | undefined)[]): Locale {
  return chooseLocale(tags);
}

/**
 * The `/authorize` parameters a `/login` URL asks for and the invite to keep. `invite`,
 * `login_hint`, `screen_hint` and `ui_locales` are forwarded, nothing else; a login carrying an
 * invite also asks for `prompt=login`, so a live session of another account is never reused
 * silently (the person chooses the account the invite goes to).
 */
export function loginRequest(
  url: URL,
  preferred: readonly string[] = [],
): { authorizationParams: Record<string, string>; invite?: PendingInvite } {
  const get = (name: string) => {
    const value = url.searchParams.get(name)?.trim();
    return value ? value : undefined;
  };
  const token = get('invite');
  const loginHint = get('login_hint');
  const screenHint = get('screen_hint') === 'signup' ? 'signup' : undefined;
  const uiLocales = get('ui_locales');
  const authorizationParams: Record<string, string> = {};
  if (loginHint) authorizationParams.login_hint = loginHint;
  if (screenHint) authorizationParams.screen_hint = screenHint;
  if (uiLocales) authorizationParams.ui_locales = uiLocales;
  if (!token) return { authorizationParams };
  const locale = pickLocale(...(uiLocales ?? '').split(' '), ...preferred);
  return {
    authorizationParams: {
      ...authorizationParams,
      invite: token,
      prompt: 'login',
      ui_locales: uiLocales ?? locale,
    },
    invite: {
      token,
      locale,
      ...(loginHint ? { loginHint } : {}),
      ...(screenHint ? { screenHint } : {}),
    },
  };
}

/** The app's `/login` URL that starts a login for `invite` again, for `address` when given. */
export function inviteLoginUrl(origin: string, invite: PendingInvite, address?: string): string {
  const url = new URL('/login', origin);
  url.searchParams.set('invite', invite.token);
  const hint = address ?? invite.loginHint;
  if (hint) url.searchParams.set('login_hint', hint);
  if (invite.screenHint) url.searchParams.set('screen_hint', invite.screenHint);
  url.searchParams.set('ui_locales', invite.locale);
  return url.href;
}

/** Whether something read from storage or `appState` is a pending invite. */
export function isPendingInvite(value: unknown): value is PendingInvite {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.token === 'string' &&
    v.token !== '' &&
    (LOCALES as readonly unknown[]).includes(v.locale) &&
    (v.loginHint === undefined || typeof v.loginHint === 'string') &&
    (v.screenHint === undefined || typeof v.screenHint === 'string')
  );
}

/** What the customer space shows about the signed-in person. */
export interface SessionView {
  userId: string;
  email?: string;
  /** The identity provider, from `sub` (`google-oauth2|…`). */
  connection?: string;
  roles: string[];
  invite?: { id: string; scope: string };
  data?: unknown;
  /** The invitee's HubSpot contact id, when the redemption knew it. */
  contactId?: string;
  /** The HubSpot contact's own properties bound to the invite (`null`: empty in HubSpot). */
  crm?: Record<string, string | null>;
  /** The stable code of a refused or failed redemption. */
  inviteError?: string;
  /** The address the invite is for, when it refused this account for another email. */
  inviteLoginHint?: string;
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** What to show from an ID token's claims; our claims are read under `namespace` only. */
export function sessionView(claims: Record<string, unknown>, namespace: string): SessionView {
  const ours = (name: (typeof CLAIMS)[keyof typeof CLAIMS]): unknown => claims[claimName(namespace, name)];
  const roles = ours(CLAIMS.roles);
  const invite = ours(CLAIMS.invite);
  const data = ours(CLAIMS.data);
  const sub = str(claims.sub) ?? '';
  const view: SessionView = {
    userId: sub,
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
  };
  const email = str(claims.email);
  if (email) view.email = email;
  if (sub.includes('|')) view.connection = sub.slice(0, sub.indexOf('|'));
  if (typeof invite === 'object' && invite !== null) {
    const { id, scope } = invite as Record<string, unknown>;
    if (str(id) && typeof scope === 'string') view.invite = { id: id as string, scope };
  }
  if (data !== undefined) view.data = data;
  const contactId = str(ours(CLAIMS.contactId));
  if (contactId) view.contactId = contactId;
  const crm = ours(CLAIMS.crm);
  if (typeof crm === 'object' && crm !== null && !Array.isArray(crm)) {
    view.crm = Object.fromEntries(
      Object.entries(crm as Record<string, unknown>)
        .filter(([, value]) => value === null || typeof value === 'string')
        .map(([name, value]) => [name, value as string | null]),
    );
  }
  const inviteError = str(ours(CLAIMS.inviteError));
  if (inviteError) view.inviteError = inviteError;
  const hint = str(ours(CLAIMS.inviteLoginHint));
  if (hint) view.inviteLoginHint = hint;
  return view;
}

/** What a person can do about an invite notice. */
export type InviteRemedy =
  /** Sign out of this account and sign in as the invited address. */
  | 'switch-account'
  /** Sign in again with the invite (the check could not be made). */
  | 'retry'
  | 'none';

/** The one control an invite error offers. */
export function remedyFor(code: string): InviteRemedy {
  if (code === 'invite_email_mismatch') return 'switch-account';
  if (code === 'invite_unavailable') return 'retry';
  return 'none';
}

/** Whether an `error_description` from the tenant is an invite refusal (the Action's `deny` policy). */
export function isInviteErrorCode(code: string): boolean {
  return /^invite_[a-z_]+$/.test(code) || code === 'misconfigured';
}

/** Every sentence of the customer space, per language. */
export const TEXT = {
  en: {
    title: (app: string) => `${app} customer space`,
    getAccess: 'Get access',
    welcome: 'Welcome to the customer space',
    signedOut: 'You are not signed in.',
    signIn: 'Sign in',
    signUp: 'Sign up',
    signedIn: 'You are signed in',
    email: 'Email',
    userId: 'User id',
    connection: 'Connection',
    roles: 'Roles',
    noRoles: 'No roles granted.',
    invite: 'Invite',
    inviteId: 'Id',
    inviteScope: 'Scope',
    data: 'Our data',
    crm: 'In our CRM',
    contactId: 'HubSpot contact',
    crmProperties: 'Contact properties',
    crmEmpty: '(empty)',
    signOut: 'Sign out',
    redirecting: 'Taking you to sign in…',
    finishing: 'Signing you in…',
    loading: 'Loading…',
    /** The label of a code shown under a message, for a person to quote to support. */
    code: 'Code for support: ',
    none: '(none)',
    inviteFor: (address: string) => `This invitation is for ${address}.`,
    signedInAs: (email: string) => `You are signed in as ${email}, so it was not applied.`,
    mismatchNoAddress: 'You signed in with another address, so it was not applied.',
    switchTo: (address: string) => `Sign in as ${address}`,
    switchGeneric: 'Sign in with the invited address',
    switchExplains: 'This signs you out of this account first. The invitation stays valid.',
    stillValid: 'The invitation stays valid.',
    retry: 'Try again',
    retryExplains: 'You will sign in again; the invitation stays valid.',
    errors: {
      invite_expired: 'This invitation has expired. Ask for a new one.',
      invite_revoked: 'This invitation was withdrawn.',
      invite_already_used: 'This invitation was already accepted by another account.',
      invite_email_mismatch: 'This invitation is for another email address: sign in with the address it was sent to.',
      invite_unknown_link: 'This invitation link was replaced by a newer one; use the latest email.',
      invite_not_found: 'This invitation does not exist.',
      invite_invalid: 'This invitation link is not valid.',
      invite_not_pending: 'This invitation can no longer be accepted.',
      invite_failed: 'This invitation could not be completed.',
      invite_unavailable: 'We could not check your invitation just now, so you are signed in without it.',
      misconfigured: 'Invitations are not set up correctly; you are signed in without it.',
    } as Record<string, string>,
    unknownError: 'The invitation could not be applied.',
    loginFailed: 'The sign-in did not complete.',
    somethingWrong: 'Something went wrong.',
  },
  fr: {
    title: (app: string) => `Espace client ${app}`,
    getAccess: 'Obtenir l’accès',
    welcome: 'Bienvenue dans l’espace client',
    signedOut: 'Vous n’êtes pas connecté.',
    signIn: 'Se connecter',
    signUp: 'Créer un compte',
    signedIn: 'Vous êtes connecté',
    email: 'E-mail',
    userId: 'Identifiant',
    connection: 'Connexion',
    roles: 'Rôles',
    noRoles: 'Aucun rôle attribué.',
    invite: 'Invitation',
    inviteId: 'Identifiant',
    inviteScope: 'Portée',
    data: 'Nos données',
    crm: 'Dans notre CRM',
    contactId: 'Contact HubSpot',
    crmProperties: 'Propriétés du contact',
    crmEmpty: '(vide)',
    signOut: 'Se déconnecter',
    redirecting: 'Redirection vers la connexion…',
    finishing: 'Connexion en cours…',
    loading: 'Chargement…',
    code: 'Code pour le support\u00a0: ',
    none: '(aucun)',
    inviteFor: (address: string) => `Cette invitation est destinée à ${address}.`,
    signedInAs: (email: string) =>
      `Vous êtes connecté en tant que ${email}\u00a0: elle n’a donc pas été appliquée.`,
    mismatchNoAddress: 'Vous vous êtes connecté avec une autre adresse\u00a0: elle n’a donc pas été appliquée.',
    switchTo: (address: string) => `Se connecter en tant que ${address}`,
    switchGeneric: 'Se connecter avec l’adresse invitée',
    switchExplains: 'Vous serez d’abord déconnecté de ce compte. L’invitation reste valable.',
    stillValid: 'L’invitation reste valable.',
    retry: 'Réessayer',
    retryExplains: 'Vous vous reconnecterez\u00a0; l’invitation reste valable.',
    errors: {
      invite_expired: 'Cette invitation a expiré. Demandez-en une nouvelle.',
      invite_revoked: 'Cette invitation a été retirée.',
      invite_already_used: 'Cette invitation a déjà été acceptée par un autre compte.',
      invite_email_mismatch:
        'Cette invitation est destinée à une autre adresse e-mail\u00a0: connectez-vous avec l’adresse à laquelle elle a été envoyée.',
      invite_unknown_link: 'Ce lien d’invitation a été remplacé par un plus récent\u00a0; utilisez le dernier e-mail.',
      invite_not_found: 'Cette invitation n’existe pas.',
      invite_invalid: 'Ce lien d’invitation n’est pas valide.',
      invite_not_pending: 'Cette invitation ne peut plus être acceptée.',
      invite_failed: 'Cette invitation n’a pas pu être finalisée.',
      invite_unavailable:
        'Nous n’avons pas pu vérifier votre invitation pour le moment\u00a0: vous êtes connecté sans elle.',
      misconfigured: 'Les invitations ne sont pas correctement configurées\u00a0; vous êtes connecté sans elle.',
    } as Record<string, string>,
    unknownError: 'L’invitation n’a pas pu être appliquée.',
    loginFailed: 'La connexion n’a pas abouti.',
    somethingWrong: 'Un problème est survenu.',
  },
} satisfies Record<Locale, unknown>;

/** The sentences of one language. */
export type Texts = (typeof TEXT)[Locale];

/**
 * A sentence for an invite error code in `locale`; an unknown code gets a general sentence (the
 * notice shows every code under its message, labelled for support).
 */
export function inviteErrorMessage(code: string, locale: Locale): string {
  const t = TEXT[locale];
  return (Object.hasOwn(t.errors, code) ? t.errors[code] : undefined) ?? t.unknownError;
}
