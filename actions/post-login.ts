/**
 * Auth0 post-login Action: redeems an inviteflow invite carried by the `/authorize` request and
 * puts the invite's roles and our data into the tokens being issued, so the very first token of a
 * freshly invited person already carries them.
 *
 * It has no npm dependencies (node:crypto signs the call by hand), so `actions/build.ts` bundles it,
 * with the wire contract it shares with the API (`lib/action-contract.ts`), into one small CommonJS
 * file that Auth0 runs as is. Secrets are documented in `actions/README.md`.
 */
import { signActionToken } from './request-token';
import {
  ACTION_MISCONFIGURED,
  ACTION_PATHS,
  CLAIMS,
  INVITE_UNAVAILABLE,
  claimName,
  parseClaimAnswer,
  parseRedemptionAnswer,
  parseRefusal,
} from '../lib/action-contract';
import type {
  ActionUser,
  ClaimRequest,
  InviteClaim,
  ReadRefusal,
  RedemptionAnswer,
  RedemptionRequest,
} from '../lib/action-contract';

/** The parts of Auth0's post-login `event` object this Action reads (Auth0 sends many more). */
export interface Event {
  user: {
    user_id: string;
    email?: string;
    email_verified?: boolean;
    app_metadata?: Record<string, unknown>;
    user_metadata?: Record<string, unknown>;
  };
  connection: { id?: string; name: string; strategy: string };
  /** The user's Auth0 (RBAC) roles, as Auth0 holds them when the login starts. */
  authorization?: { roles?: string[] };
  request: {
    ip: string;
    method?: string;
    hostname?: string;
    /** The `/authorize` query on an interactive login; empty on refresh-token exchanges. */
    query?: Record<string, unknown>;
    body?: Record<string, unknown>;
  };
  transaction?: { protocol?: string; redirect_uri?: string; requested_scopes?: string[] };
  client?: { client_id: string; name?: string };
  stats?: { logins_count: number };
  secrets: Record<string, string | undefined>;
}

/** The parts of Auth0's post-login `api` object this Action calls. */
export interface API {
  access: { deny(reason: string): unknown };
  /** Continues the login as another user, after this login's identity was linked into it. */
  authentication: { setPrimaryUser(primaryUserId: string): unknown };
  idToken: { setCustomClaim(name: string, value: unknown): unknown };
  accessToken: { setCustomClaim(name: string, value: unknown): unknown };
  user: {
    setAppMetadata(name: string, value: unknown): unknown;
    setUserMetadata(name: string, value: unknown): unknown;
  };
}

/** What happens to the login when the invite cannot be redeemed. */
export type RefusalPolicy = 'continue' | 'deny';


const DEFAULTS = {
  INVITE_PARAM: 'invite',
  ON_REFUSAL: 'continue' as RefusalPolicy,
  CLAIM_NAMESPACE: 'https://inviteflow.dev/',
  REDEMPTION_TIMEOUT_MS: 5000,
};
// Auth0 gives the whole post-login flow 20 s; one call to our API must never take a quarter of it.
const MAX_TIMEOUT_MS = 5000;
const MIN_TIMEOUT_MS = 100;
const MIN_SECRET_LENGTH = 32;
// A link token is a few hundred characters; anything far larger is not one of ours.
const MAX_TOKEN_LENGTH = 4096;

interface Settings {
  apiUrl: string;
  actionSecret: string;
  inviteParam: string;
  onRefusal: RefusalPolicy;
  namespace: string;
  timeoutMs: number;
  /** Ask the API for an invite to claim by verified email on logins without a link. */
  claimByEmail: boolean;
}

// Optional settings fall back to their defaults even when malformed, so a refusal can still be
// reported under the right parameter name, policy and namespace; the problem is still reported.
function readSettings(secrets: Record<string, string | undefined>): {
  settings: Settings;
  problems: string[];
} {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = secrets[name];
    return typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : undefined;
  };

  let apiUrl = '';
  const rawUrl = value('INVITEFLOW_API_URL');
  if (!rawUrl) problems.push('INVITEFLOW_API_URL is missing');
  else if (!/^https?:\/\/[^\s/]+/i.test(rawUrl)) problems.push('INVITEFLOW_API_URL must be an http(s) URL');
  else apiUrl = rawUrl.replace(/\/+$/, '');

  const actionSecret = secrets.INVITEFLOW_ACTION_SECRET ?? '';
  if (actionSecret.length < MIN_SECRET_LENGTH)
    problems.push(`INVITEFLOW_ACTION_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);

  let inviteParam = DEFAULTS.INVITE_PARAM;
  const rawParam = value('INVITE_PARAM');
  if (rawParam !== undefined) {
    if (/^[A-Za-z0-9_.-]{1,64}$/.test(rawParam)) inviteParam = rawParam;
    else problems.push('INVITE_PARAM must be a plain query parameter name');
  }

  let onRefusal = DEFAULTS.ON_REFUSAL;
  const rawPolicy = value('ON_REFUSAL');
  if (rawPolicy !== undefined) {
    if (rawPolicy === 'continue' || rawPolicy === 'deny') onRefusal = rawPolicy;
    else problems.push('ON_REFUSAL must be "continue" or "deny"');
  }

  let namespace = DEFAULTS.CLAIM_NAMESPACE;
  const rawNamespace = value('CLAIM_NAMESPACE');
  if (rawNamespace !== undefined) {
    if (/^https?:\/\/[^\s]+[/#]$/i.test(rawNamespace)) namespace = rawNamespace;
    else problems.push('CLAIM_NAMESPACE must be an http(s) URL ending in "/"');
  }

  let timeoutMs = DEFAULTS.REDEMPTION_TIMEOUT_MS;
  const rawTimeout = value('REDEMPTION_TIMEOUT_MS');
  if (rawTimeout !== undefined) {
    const parsed = Number(rawTimeout);
    if (Number.isFinite(parsed)) timeoutMs = Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, parsed));
    else problems.push('REDEMPTION_TIMEOUT_MS must be a number of milliseconds');
  }

  let claimByEmail = false;
  const rawClaim = value('CLAIM_BY_EMAIL');
  if (rawClaim !== undefined) {
    if (rawClaim === 'true' || rawClaim === 'false') claimByEmail = rawClaim === 'true';
    else problems.push('CLAIM_BY_EMAIL must be "true" or "false"');
  }

  return { settings: { apiUrl, actionSecret, inviteParam, onRefusal, namespace, timeoutMs, claimByEmail }, problems };
}

function inviteToken(query: Record<string, unknown> | undefined, param: string): string | undefined {
  const raw = query?.[param];
  const first: unknown = Array.isArray(raw) ? raw[0] : raw;
  return typeof first === 'string' && first.trim() !== '' ? first.trim() : undefined;
}

/** A redemption that did not happen: the code for the login, and the invited address. */
interface Refused extends ReadRefusal {
  ok: false;
}

/** POSTs JSON to the API with a fresh Action token bound to this login's user. */
function postToApi(settings: Settings, event: Event, path: string, body: RedemptionRequest | ClaimRequest): Promise<Response> {
  return fetch(`${settings.apiUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${signActionToken({ secret: settings.actionSecret, subject: event.user.user_id })}`,
    },
    body: JSON.stringify(body),
    // A redirect would resend the bearer token somewhere we did not choose.
    redirect: 'error',
    // The signal also bounds reading the body, so a slow answer cannot hold the login either.
    signal: AbortSignal.timeout(settings.timeoutMs),
  });
}

/** The account as the API expects it; an account without an email sends an empty one. */
function actionUser(event: Event): ActionUser {
  return {
    id: event.user.user_id,
    email: event.user.email ?? '',
    email_verified: event.user.email_verified === true,
    connection: event.connection.name,
  };
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text()) as unknown;
  } catch {
    // A proxy's HTML page or a cut-off body: the parsers see nothing they recognise.
    return undefined;
  }
}

/**
 * Asks the API whether an invite waits for this verified address; undefined when none does or
 * anything goes wrong (the login then goes on untouched: a claim is a bonus, never a gate).
 */
async function claim(settings: Settings, event: Event): Promise<RedemptionAnswer | undefined> {
  try {
    const response = await postToApi(settings, event, ACTION_PATHS.claim, { user: actionUser(event) });
    if (response.status !== 200) return undefined;
    const answer = parseClaimAnswer(await readJson(response));
    return answer?.claimed ? answer : undefined;
  } catch {
    return undefined;
  }
}

/** The roles Auth0 holds for the account (RBAC), e.g. granted by an earlier invite or another account's. */
function heldRoles(event: Event): string[] {
  const roles = event.authorization?.roles;
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [];
}

/**
 * A login that redeems nothing still carries the roles Auth0 holds for the account: granted by an
 * invite redeemed before, or to this account by another's redemption (account policy
 * `all-verified` or `link`). Nothing is set for an account without roles.
 */
function keepHeldRoles(api: API, settings: Settings, event: Event): void {
  const roles = heldRoles(event);
  if (roles.length === 0) return;
  for (const target of [api.idToken, api.accessToken]) target.setCustomClaim(claimName(settings.namespace, CLAIMS.roles), roles);
}

function grant(api: API, settings: Settings, event: Event, outcome: RedemptionAnswer): void {
  const invite: InviteClaim = {
    id: outcome.inviteId,
    scope: outcome.scope,
    ...(outcome.redirect === undefined ? {} : { redirect: outcome.redirect }),
  };
  const name = (claim: (typeof CLAIMS)[keyof typeof CLAIMS]) => claimName(settings.namespace, claim);
  // The invite's roles beside those the account already holds (Auth0 assigns them after the login).
  const roles = [...new Set([...heldRoles(event), ...outcome.roles])];
  for (const target of [api.idToken, api.accessToken]) {
    target.setCustomClaim(name(CLAIMS.roles), roles);
    target.setCustomClaim(name(CLAIMS.invite), invite);
    target.setCustomClaim(name(CLAIMS.data), outcome.claims);
    if (outcome.attribution) target.setCustomClaim(name(CLAIMS.attribution), outcome.attribution);
    if (outcome.contactId !== undefined) target.setCustomClaim(name(CLAIMS.contactId), outcome.contactId);
    if (outcome.crm !== undefined) target.setCustomClaim(name(CLAIMS.crm), outcome.crm);
  }
  // Account policy `link`: this login's identity now belongs to another Auth0 user, and Auth0 does
  // not switch to it by itself; the tokens are then that user's, who holds the grant.
  if (outcome.primaryUserId !== undefined && outcome.primaryUserId !== event.user.user_id) api.authentication.setPrimaryUser(outcome.primaryUserId);
}

async function redeem(settings: Settings, token: string, event: Event): Promise<RedemptionAnswer | Refused> {
  try {
    const response = await postToApi(settings, event, ACTION_PATHS.redemption, { token, user: actionUser(event) });
    const body = await readJson(response);
    if (response.status === 200) return parseRedemptionAnswer(body) ?? { ok: false, code: INVITE_UNAVAILABLE };
    return { ok: false, ...parseRefusal(response.status, body) };
  } catch {
    // Timeout, DNS, connection refused, TLS: the invite stays redeemable, the login must not wait.
    return { ok: false, code: INVITE_UNAVAILABLE };
  }
}

function refuse(api: API, settings: Settings, event: Event, refusal: ReadRefusal): void {
  // The application keeps open self-signup, so by default a refused invite must not lock anyone
  // out: the login goes on without our grants and the customer space reads `invite_error` (and the
  // account to use instead, when the invite is bound to another email), then offers to sign out and
  // sign in as that address. `deny` is for applications where arriving without the invite's grants
  // makes no sense; Auth0 then redirects to the app with `error=access_denied` and the code as
  // `error_description`.
  if (settings.onRefusal === 'deny') {
    api.access.deny(refusal.code);
    return;
  }
  keepHeldRoles(api, settings, event);
  api.idToken.setCustomClaim(claimName(settings.namespace, CLAIMS.inviteError), refusal.code);
  if (refusal.loginHint !== undefined)
    api.idToken.setCustomClaim(claimName(settings.namespace, CLAIMS.inviteLoginHint), refusal.loginHint);
}

/**
 * Auth0 calls this on every login. With an invite in the `/authorize` request it redeems it; without
 * one it may claim an invite by verified email (opt-in); otherwise it only puts the roles Auth0
 * holds for the account into the tokens.
 */
export const onExecutePostLogin = async (event: Event, api: API): Promise<void> => {
  const { settings, problems } = readSettings(event.secrets ?? {});
  const token = inviteToken(event.request?.query, settings.inviteParam);
  if (token === undefined) {
    // Claim by verified email (opt-in): only interactive logins, only addresses the identity
    // provider verified; an unverified address could belong to anyone who typed it.
    if (
      settings.claimByEmail &&
      problems.length === 0 &&
      event.user.email_verified === true &&
      typeof event.user.email === 'string' &&
      event.transaction?.protocol !== 'oauth2-refresh-token'
    ) {
      const claimed = await claim(settings, event);
      if (claimed) {
        grant(api, settings, event, claimed);
        console.log(`inviteflow: invite ${claimed.inviteId} claimed by verified email`);
        return;
      }
    }
    keepHeldRoles(api, settings, event);
    return;
  }

  if (problems.length > 0) {
    console.log(`inviteflow: misconfigured (${problems.join('; ')})`);
    refuse(api, settings, event, { code: ACTION_MISCONFIGURED });
    return;
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    refuse(api, settings, event, { code: 'invite_invalid' });
    return;
  }

  const outcome = await redeem(settings, token, event);
  if ('ok' in outcome) {
    if (outcome.code === ACTION_MISCONFIGURED) console.log('inviteflow: misconfigured (the API refused the Action token)');
    console.log(`inviteflow: invite refused (${outcome.code})`);
    refuse(api, settings, event, outcome);
    return;
  }

  grant(api, settings, event, outcome);
  console.log(
    `inviteflow: invite ${outcome.inviteId} ${outcome.repeat ? 'already redeemed by this account' : 'redeemed'}`,
  );
};
