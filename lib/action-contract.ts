/**
 * The wire contract between the Auth0 post-login Action, the API it calls and the customer space
 * that reads the tokens the Action shapes. Defined once here and imported by each side: the API's
 * schemas are checked against these types, the Action parses the API's answers with the parsers
 * below (bundled into its one file by `actions/build.ts`), and the customer space reads the ID
 * token's claims by these names. No imports, so every side can bundle it as it is.
 */

/** The custom claims the Action sets, each under the tenant's namespace (`CLAIM_NAMESPACE`). */
export const CLAIMS = {
  /** The roles the invite granted (string[]). */
  roles: 'roles',
  /** `{ id, scope, redirect? }` of the redeemed invite. */
  invite: 'invite',
  /** Our data bound to the invite (a JSON object). */
  data: 'data',
  /** Campaign/UTM fields, when the invite asked for them in the tokens. */
  attribution: 'attribution',
  /** The HubSpot contact id of the invited address (string), when known at redemption. */
  contactId: 'hubspot_contact_id',
  /** The HubSpot contact's own properties the invite binds (`{ name: value | null }`), when read. */
  crm: 'crm',
  /** The stable code of a refused or failed redemption (`InviteErrorCode`, ID token only). */
  inviteError: 'invite_error',
  /** The invited address, when the invite refused this account for another email (ID token only). */
  inviteLoginHint: 'invite_login_hint',
} as const;

/** The name of a custom claim under a namespace such as `https://inviteflow.dev/`. */
export function claimName(namespace: string, claim: (typeof CLAIMS)[keyof typeof CLAIMS]): string {
  return `${namespace}${claim}`;
}

/** The value of the `invite` claim. */
export interface InviteClaim {
  id: string;
  scope: string;
  redirect?: string;
}

/** The Action's calls: paths under `INVITEFLOW_API_URL`. */
export const ACTION_PATHS = {
  redemption: '/v1/redemptions',
  claim: '/v1/claims',
} as const;

/**
 * The Action authenticates each call with an HS256 JWT signed with the secret it shares with the
 * API (`Authorization: Bearer …`): these `iss` and `aud`, `sub` = the Auth0 user id of the body,
 * a fresh `jti`, and this lifetime.
 */
export const ACTION_TOKEN = {
  issuer: 'inviteflow-action',
  audience: 'inviteflow-redemptions',
  lifetimeSeconds: 60,
} as const;

/** The account logging in, as the Action sends it. */
export interface ActionUser {
  /** Auth0 user id (`auth0|…`, `google-oauth2|…`). */
  id: string;
  /** The account's email; empty when the identity provider gave none. */
  email: string;
  email_verified: boolean;
  /** Auth0 connection name (`Username-Password-Authentication`, `google-oauth2`, …). */
  connection: string;
}

/** Body of `POST /v1/redemptions`: the link token the person arrived with and the account. */
export interface RedemptionRequest {
  token: string;
  user: ActionUser;
}

/** Body of `POST /v1/claims`: a verified account logging in without a link. */
export interface ClaimRequest {
  user: ActionUser;
}

/** The campaign fields an invite can carry (`utm_*`). */
export const ATTRIBUTION_FIELDS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;

/** Campaign/UTM fields, answered only when the invite asked for them in the claims. */
export type Attribution = Partial<Record<(typeof ATTRIBUTION_FIELDS)[number], string>>;

/** `200` of `POST /v1/redemptions`: what goes into the tokens being issued. */
export interface RedemptionAnswer {
  inviteId: string;
  scope: string;
  roles: string[];
  /** Our data bound to the invite (the `data` claim). */
  claims: Record<string, unknown>;
  /** Where the customer space should send the person after sign-in. */
  redirect?: string;
  attribution?: Attribution;
  /** The HubSpot contact of the invited address, when known. */
  contactId?: string;
  /** The contact's own properties bound to the invite (`null`: empty in HubSpot). */
  crm?: Record<string, string | null>;
  /**
   * Account policy `link`: the Auth0 user the account logging in was just linked into. The Action
   * continues the login as that user (`api.authentication.setPrimaryUser`).
   */
  primaryUserId?: string;
  /** True when this account had already redeemed the invite. */
  repeat: boolean;
}

/** Why `POST /v1/claims` found nothing to claim. */
export type NotClaimedReason = 'email_unverified' | 'no_claimable_invite';

/** A claimed invite, answered as a redemption. */
export interface ClaimedAnswer extends RedemptionAnswer {
  claimed: true;
}

/** Nothing to claim; the login goes on untouched. */
export interface NotClaimedAnswer {
  claimed: false;
  reason: NotClaimedReason;
}

/** `200` of `POST /v1/claims`. */
export type ClaimAnswer = ClaimedAnswer | NotClaimedAnswer;

/**
 * The refusals of `POST /v1/redemptions` that are about the invite, with their HTTP status. None
 * consumes the invite. The Action passes these codes on as they are.
 */
export const REDEMPTION_REFUSALS = {
  /** Not a link of ours: malformed, forged, tampered with. */
  invite_invalid: 400,
  /** The account's email is not the invited one; `details.login_hint` is the invited address. */
  invite_email_mismatch: 403,
  /** A valid link of an invite that does not exist (any more). */
  invite_not_found: 404,
  /** A link the invite never issued (an earlier run of the same invite id). */
  invite_unknown_link: 404,
  /** Redeemed by another account. */
  invite_already_used: 409,
  /** Neither pending nor redeemed by this account. */
  invite_not_pending: 409,
  /** Redeemed by this account, but granting it failed for good; an operator has to act. */
  invite_failed: 409,
  invite_expired: 410,
  invite_revoked: 410,
  /** Too many attempts with this link or from this address; a later try may work. */
  rate_limited: 429,
} as const;

/** A refusal code of `POST /v1/redemptions`. */
export type RedemptionRefusalCode = keyof typeof REDEMPTION_REFUSALS;

/** `details` of an `invite_email_mismatch` refusal. */
export interface EmailMismatchDetails {
  /** The invited address: the account to sign in with instead. */
  login_hint: string;
}

/** The body of every refusal the API answers (`4xx`/`5xx`). */
export interface RefusalBody {
  error: {
    /** Stable, machine-readable; callers switch on it. */
    code: string;
    /** Human-readable; may change. */
    message: string;
    /** `EmailMismatchDetails` for `invite_email_mismatch`; other codes carry their own details. */
    details?: unknown;
  };
}

/** The refusal of an email mismatch: the invited address travels in `error.details.login_hint`. */
export interface EmailMismatchRefusal {
  error: {
    code: 'invite_email_mismatch';
    message: string;
    details?: EmailMismatchDetails;
  };
}

/**
 * The codes the customer space can find in the `invite_error` claim (or, under `ON_REFUSAL=deny`,
 * in `error_description`): a refusal of the API, or one of the Action's own.
 */
export type InviteErrorCode = RedemptionRefusalCode | typeof INVITE_UNAVAILABLE | typeof ACTION_MISCONFIGURED;

/** The API could not be reached, did not answer in time, failed, or answered something unreadable. */
export const INVITE_UNAVAILABLE = 'invite_unavailable';
/** The Action's secrets are missing or malformed, or the API does not accept its signature. */
export const ACTION_MISCONFIGURED = 'misconfigured';

/** Every `InviteErrorCode`, for readers that must recognise one. */
export const INVITE_ERROR_CODES: readonly InviteErrorCode[] = [
  ...(Object.keys(REDEMPTION_REFUSALS) as RedemptionRefusalCode[]),
  INVITE_UNAVAILABLE,
  ACTION_MISCONFIGURED,
];

/** Whether `value` is an `InviteErrorCode`. */
export function isInviteErrorCode(value: unknown): value is InviteErrorCode {
  return typeof value === 'string' && (INVITE_ERROR_CODES as readonly string[]).includes(value);
}

/** What a redemption that did not happen means for the login: a code, and the invited address. */
export interface ReadRefusal {
  code: InviteErrorCode;
  loginHint?: string;
}

// An email address is at most 320 characters; a longer "hint" is not one.
const MAX_LOGIN_HINT_LENGTH = 320;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

// Property values are strings; anything else in `crm` is not ours.
function readCrm(value: unknown): Record<string, string | null> | undefined {
  if (!isObject(value)) return undefined;
  const crm: Record<string, string | null> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string' || v === null) crm[name] = v;
  }
  return crm;
}

function readAttribution(value: unknown): Attribution | undefined {
  if (!isObject(value)) return undefined;
  const attribution: Attribution = {};
  for (const field of ATTRIBUTION_FIELDS) {
    const v = value[field];
    if (typeof v === 'string') attribution[field] = v;
  }
  return Object.keys(attribution).length > 0 ? attribution : undefined;
}

/** Reads a `RedemptionAnswer` defensively: undefined unless `body` has its shape. */
export function parseRedemptionAnswer(body: unknown): RedemptionAnswer | undefined {
  if (!isObject(body)) return undefined;
  const { inviteId, scope, roles, claims, redirect, repeat, contactId, primaryUserId } = body;
  if (typeof inviteId !== 'string' || typeof scope !== 'string' || !isStringArray(roles) || !isObject(claims)) return undefined;
  if (redirect !== undefined && typeof redirect !== 'string') return undefined;
  if (typeof repeat !== 'boolean') return undefined;
  if (contactId !== undefined && typeof contactId !== 'string') return undefined;
  if (primaryUserId !== undefined && typeof primaryUserId !== 'string') return undefined;
  const attribution = readAttribution(body.attribution);
  const crm = readCrm(body.crm);
  return {
    inviteId,
    scope,
    roles,
    claims,
    ...(redirect === undefined ? {} : { redirect }),
    ...(attribution === undefined ? {} : { attribution }),
    ...(contactId === undefined ? {} : { contactId }),
    ...(crm === undefined ? {} : { crm }),
    ...(primaryUserId === undefined ? {} : { primaryUserId }),
    repeat,
  };
}

/** Reads a `ClaimAnswer` defensively: the claimed invite, `{ claimed: false }`, or undefined. */
export function parseClaimAnswer(body: unknown): ClaimAnswer | undefined {
  if (!isObject(body)) return undefined;
  if (body.claimed === false) {
    const reason = body.reason === 'email_unverified' ? 'email_unverified' : 'no_claimable_invite';
    return { claimed: false, reason };
  }
  if (body.claimed !== true) return undefined;
  const answer = parseRedemptionAnswer(body);
  return answer && { ...answer, claimed: true };
}

/**
 * What a non-200 answer of `POST /v1/redemptions` means for the login. A refusal about the invite
 * keeps its code (and the invited address of an email mismatch, from `error.details.login_hint`);
 * a `401` means the API does not take the Action's signature (`misconfigured`); anything else (a
 * 5xx, a proxy's page, an unknown code) is `invite_unavailable`.
 */
export function parseRefusal(status: number, body: unknown): ReadRefusal {
  const error = isObject(body) ? body.error : undefined;
  const code = isObject(error) ? error.code : undefined;
  if (status === 401 && code === 'unauthorized') return { code: ACTION_MISCONFIGURED };
  if (typeof code !== 'string' || !Object.hasOwn(REDEMPTION_REFUSALS, code)) return { code: INVITE_UNAVAILABLE };
  const refusal = code as RedemptionRefusalCode;
  if (REDEMPTION_REFUSALS[refusal] !== status) return { code: INVITE_UNAVAILABLE };
  if (refusal !== 'invite_email_mismatch' || !isObject(error)) return { code: refusal };
  const details = error.details;
  const hint = isObject(details) ? details.login_hint : undefined;
  return typeof hint === 'string' && hint.length > 0 && hint.length <= MAX_LOGIN_HINT_LENGTH
    ? { code: refusal, loginHint: hint }
    : { code: refusal };
}
