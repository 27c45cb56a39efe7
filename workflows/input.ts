/**
 * Validation and defaults of the invite input. Pure code shared by the workflow (the last line of
 * defence: a bad input fails the run at once) and the API (which refuses it before starting).
 */
import { msToNumber } from '@temporalio/common/lib/time';
import type { Duration } from '@temporalio/common';
import { ACCOUNT_POLICIES } from './messages';
import type { AccountPolicy, Attribution, EmailPolicy, InviteInput, InviteStatus, JsonValue } from './messages';
import { DEFAULT_SEND_WINDOW, defaultTimeZone, ianaTimeZone, EARLIEST_START_MINUTES, LATEST_END_MINUTES, MIN_WINDOW_MINUTES, parseClock } from './send-window';
import type { SendWindow } from './send-window';

export const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_TTL = '7 days';
export const MAX_TTL_MS = 30 * DAY;
export const MIN_TTL_MS = 60 * 1000;
export const DEFAULT_REMINDERS: Duration[] = ['2 days', '5 days'];
export const DEFAULT_ESCALATE_BEFORE = '2 days';
export const MAX_REMINDERS = 5;
export const DEFAULT_RESEND_INTERVAL = '1 minute';
export const DEFAULT_MAX_RESENDS = 5;
export const MAX_EXTENDS = 5;
export const MAX_ROLES = 50;
export const MAX_DATA_BYTES = 8 * 1024;
/**
 * Deepest nesting of `data`: `{ "a": 1 }` is 1 level, `{ "a": { "b": 1 } }` 2; an array is a level
 * like an object. Data ends up in tokens and in `app_metadata`, read by code that walks it.
 */
export const MAX_DATA_DEPTH = 5;
/** Most keys in `data`, counted at every level; an array's items count as keys. */
export const MAX_DATA_KEYS = 100;
export const SUPPORTED_LOCALES = ['en', 'fr'] as const;
/** The attribution fields an invite may carry, as the funnel names them. */
export const ATTRIBUTION_FIELDS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
/** Longest attribution value (HubSpot single-line text holds far more; UTM values are short). */
export const MAX_ATTRIBUTION_LENGTH = 200;
/** Most HubSpot contact properties an invite reads into its tokens. */
export const MAX_CRM_PROPERTIES = 20;
/** A HubSpot property's internal name: lower-case letters, digits and underscores. */
export const CRM_PROPERTY_NAME = /^[a-z][a-z0-9_]{0,99}$/;

/** An input with every default filled in and durations in milliseconds. */
export interface ResolvedInvite {
  inviteId: string;
  email: string;
  roles: string[];
  data: Record<string, JsonValue>;
  scope: string;
  locale: string;
  inviter?: { name?: string; email?: string };
  ttlMs: number;
  reminderOffsetsMs: number[];
  /** Where and when reminders may go out. */
  sendWindow: SendWindow;
  /** Escalate this long before expiry; undefined: never (turned off, or the ttl is not longer). */
  escalateBeforeMs?: number;
  redirect?: string;
  emailPolicy: EmailPolicy;
  attribution?: Attribution;
  attributionInClaims: boolean;
  claimByVerifiedEmail: boolean;
  accountPolicy: AccountPolicy;
  /** HubSpot contact properties to read at creation and bind beside `data`. */
  crmProperties: string[];
  resendIntervalMs: number;
  maxResends: number;
  /** The caller's creation time, when given (see `InviteInput.createdAt` and `inviteCreatedAt`). */
  createdAtMs?: number;
}

/** A field-level problem found in an input; `field` is a dotted path. */
export interface InputProblem {
  field: string;
  message: string;
}

/** Thrown by `resolveInviteInput`; the workflow turns it into an `InvalidInput` failure. */
export class InvalidInviteInput extends Error {
  constructor(readonly problems: InputProblem[]) {
    super(`invalid invite input: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    this.name = 'InvalidInviteInput';
  }
}

// Deliberately conservative: one @, a dot in the domain, no spaces or control characters. Real
// deliverability is proven by the email reaching the person, not by a regex.
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
const EMAIL = /^[^\s@<>()[\]\\,;:"\x00-\x1f]{1,64}@(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SCOPE = /^[a-z0-9][a-z0-9:._-]{0,63}$/;
const ROLE = /^[\w .:/-]{1,100}$/u;
const INVITE_ID = /^[a-z0-9]{16,64}$/;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** Trims and lower-cases an address; Auth0 and HubSpot compare emails case-insensitively too. */
export function normalizeEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** True when `email` is a normalized, plausible address. */
export function isValidEmail(email: string): boolean {
  return email === normalizeEmail(email) && EMAIL.test(email);
}

function duration(value: Duration, field: string, problems: InputProblem[]): number | undefined {
  try {
    const ms = msToNumber(value);
    if (!Number.isFinite(ms) || ms <= 0) throw new Error('not positive');
    return ms;
  } catch {
    problems.push({ field, message: 'must be a positive duration like "7 days" or a number of milliseconds' });
    return undefined;
  }
}

function jsonBytes(value: unknown): number {
  // Workflow code has no TextEncoder guarantee on every SDK version; count UTF-8 bytes by hand.
  const text = JSON.stringify(value) ?? '';
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdbff ? (i++, 4) : 3;
  }
  return bytes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The first bound `data` breaks (depth or key count), as a problem naming the limit and where, or
 * undefined. Walks with its own stack and stops at the first breach, so hostile nesting costs
 * no more than the limits. `keysBeside`: keys bound beside `data` that count against its limit.
 */
function dataShapeProblem(data: Record<string, unknown>, keysBeside = 0): InputProblem | undefined {
  const pending: { value: object; path: string[]; depth: number }[] = [{ value: data, path: ['data'], depth: 1 }];
  let keys = keysBeside;
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, path, depth } = next;
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v: unknown, i) => [String(i), v]) : Object.entries(value);
    keys += entries.length;
    if (keys > MAX_DATA_KEYS) {
      return { field: 'data', message: `must have at most ${MAX_DATA_KEYS} keys in all (array items count as keys)` };
    }
    for (const [key, child] of entries) {
      if (typeof child !== 'object' || child === null) continue;
      const childPath = [...path, key.length > 40 ? `${key.slice(0, 40)}…` : key];
      if (depth + 1 > MAX_DATA_DEPTH) {
        return { field: 'data', message: `must nest at most ${MAX_DATA_DEPTH} levels deep (${childPath.join('.')} is level ${depth + 1})` };
      }
      pending.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Whether the CRM's properties fit beside the funnel's data under the data's limits (bytes and
 * keys counted together, the data's keys at every level as its own check counts them), so that
 * the tokens carrying both stay as small as `data` alone may be.
 */
export function crmFitsBesideData(data: Record<string, unknown>, crm: Record<string, string | null>): boolean {
  return jsonBytes(data) + jsonBytes(crm) <= MAX_DATA_BYTES && dataShapeProblem(data, Object.keys(crm).length) === undefined;
}

/** Checks an input and fills the defaults; throws `InvalidInviteInput` listing every problem. */
export function resolveInviteInput(input: InviteInput): ResolvedInvite {
  const problems: InputProblem[] = [];
  if (typeof input.inviteId !== 'string' || !INVITE_ID.test(input.inviteId)) {
    problems.push({ field: 'inviteId', message: 'must be 16 to 64 lower-case letters and digits' });
  }
  if (typeof input.email !== 'string' || !isValidEmail(input.email)) {
    problems.push({ field: 'email', message: 'must be a normalized email address' });
  }
  if (typeof input.scope !== 'string' || !SCOPE.test(input.scope)) {
    problems.push({ field: 'scope', message: 'must be 1 to 64 of a-z 0-9 : . _ - and start with a letter or digit' });
  }
  if (!Array.isArray(input.roles) || input.roles.length > MAX_ROLES) {
    problems.push({ field: 'roles', message: `must be a list of at most ${MAX_ROLES} role names` });
  } else {
    input.roles.forEach((role, i) => {
      if (typeof role !== 'string' || !ROLE.test(role)) problems.push({ field: `roles.${i}`, message: 'is not a valid role name' });
    });
  }
  if (!isPlainObject(input.data)) {
    problems.push({ field: 'data', message: 'must be a JSON object' });
  } else if (jsonBytes(input.data) > MAX_DATA_BYTES) {
    problems.push({ field: 'data', message: `must be at most ${MAX_DATA_BYTES} bytes of JSON` });
  } else {
    const shape = dataShapeProblem(input.data);
    if (shape) problems.push(shape);
  }
  if (typeof input.locale !== 'string' || !/^[a-z]{2}(?:-[A-Za-z]{2})?$/.test(input.locale)) {
    problems.push({ field: 'locale', message: 'must be a language tag like "en" or "fr-CA"' });
  }
  if (input.inviter !== undefined) {
    const { name, email } = input.inviter;
    if (name !== undefined && (typeof name !== 'string' || name.length > 100)) {
      problems.push({ field: 'inviter.name', message: 'must be at most 100 characters' });
    }
    if (email !== undefined && (typeof email !== 'string' || !isValidEmail(normalizeEmail(email)))) {
      problems.push({ field: 'inviter.email', message: 'must be an email address' });
    }
  }
  const emailPolicy = input.emailPolicy ?? 'same-email';
  if (emailPolicy !== 'same-email' && emailPolicy !== 'any') {
    problems.push({ field: 'emailPolicy', message: 'must be "same-email" or "any"' });
  }
  if (input.redirect !== undefined && (typeof input.redirect !== 'string' || !/^https?:\/\/[^\s]+$/.test(input.redirect))) {
    problems.push({ field: 'redirect', message: 'must be an absolute http(s) URL' });
  }
  let attribution: Attribution | undefined;
  if (input.attribution !== undefined) {
    if (!isPlainObject(input.attribution)) {
      problems.push({ field: 'attribution', message: 'must be an object of UTM fields' });
    } else {
      attribution = {};
      for (const [key, value] of Object.entries(input.attribution)) {
        if (!(ATTRIBUTION_FIELDS as readonly string[]).includes(key)) {
          problems.push({ field: `attribution.${key}`, message: `is not one of ${ATTRIBUTION_FIELDS.join(', ')}` });
          // eslint-disable-next-line no-control-regex -- a header-like value must stay on one line
        } else if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ATTRIBUTION_LENGTH || /[\x00-\x1f\x7f]/.test(value)) {
          problems.push({ field: `attribution.${key}`, message: `must be 1 to ${MAX_ATTRIBUTION_LENGTH} characters on one line` });
        } else {
          attribution[key as keyof Attribution] = value;
        }
      }
    }
  }
  if (input.claimByVerifiedEmail !== undefined && typeof input.claimByVerifiedEmail !== 'boolean') {
    problems.push({ field: 'claimByVerifiedEmail', message: 'must be true or false' });
  }
  if (input.attributionInClaims !== undefined && typeof input.attributionInClaims !== 'boolean') {
    problems.push({ field: 'attributionInClaims', message: 'must be true or false' });
  }
  const accountPolicy = input.accountPolicy ?? 'off';
  if (!ACCOUNT_POLICIES.includes(accountPolicy)) {
    problems.push({ field: 'accountPolicy', message: `must be one of ${ACCOUNT_POLICIES.join(', ')}` });
  }
  if (accountPolicy !== 'off' && emailPolicy !== 'same-email') {
    // A forwarded link would join the forwardee's account to the invitee's own accounts.
    problems.push({ field: 'accountPolicy', message: 'all-verified and link need emailPolicy "same-email"' });
  }
  const crmProperties = input.crmProperties ?? [];
  if (!Array.isArray(crmProperties) || crmProperties.length > MAX_CRM_PROPERTIES) {
    problems.push({ field: 'crmProperties', message: `must be a list of at most ${MAX_CRM_PROPERTIES} HubSpot property names` });
  } else {
    crmProperties.forEach((name, i) => {
      if (typeof name !== 'string' || !CRM_PROPERTY_NAME.test(name)) problems.push({ field: `crmProperties.${i}`, message: 'is not a HubSpot property name' });
    });
  }
  const ttlMs = duration(input.ttl ?? DEFAULT_TTL, 'ttl', problems);
  if (ttlMs !== undefined && (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS)) {
    problems.push({ field: 'ttl', message: 'must be between 1 minute and 30 days' });
  }
  const reminders = input.reminders ?? DEFAULT_REMINDERS;
  const reminderOffsetsMs: number[] = [];
  if (!Array.isArray(reminders) || reminders.length > MAX_REMINDERS) {
    problems.push({ field: 'reminders', message: `must be a list of at most ${MAX_REMINDERS} durations` });
  } else {
    reminders.forEach((r, i) => {
      const ms = duration(r, `reminders.${i}`, problems);
      if (ms !== undefined) reminderOffsetsMs.push(ms);
    });
  }
  let timeZone: string | undefined = defaultTimeZone(typeof input.locale === 'string' ? input.locale : '');
  if (input.timeZone !== undefined) {
    timeZone = ianaTimeZone(input.timeZone);
    if (!timeZone) problems.push({ field: 'timeZone', message: 'must be an IANA time zone like "Europe/Paris"' });
  }
  const window = input.sendWindow ?? DEFAULT_SEND_WINDOW;
  const startMinutes = isPlainObject(window) ? parseClock(window.start) : undefined;
  const endMinutes = isPlainObject(window) ? parseClock(window.end) : undefined;
  if (startMinutes === undefined || endMinutes === undefined) {
    problems.push({ field: 'sendWindow', message: 'must be { start, end } as "HH:MM"' });
  } else if (startMinutes < EARLIEST_START_MINUTES || endMinutes > LATEST_END_MINUTES || endMinutes - startMinutes < MIN_WINDOW_MINUTES) {
    problems.push({ field: 'sendWindow', message: 'must lie within 07:00–22:00 and be at least 2 hours long' });
  }
  let escalateBeforeMs: number | undefined;
  if (input.escalateBefore !== false) escalateBeforeMs = duration(input.escalateBefore ?? DEFAULT_ESCALATE_BEFORE, 'escalateBefore', problems);
  const resendIntervalMs = duration(input.resendInterval ?? DEFAULT_RESEND_INTERVAL, 'resendInterval', problems);
  const maxResends = input.maxResends ?? DEFAULT_MAX_RESENDS;
  if (!Number.isInteger(maxResends) || maxResends < 0 || maxResends > 20) {
    problems.push({ field: 'maxResends', message: 'must be a whole number from 0 to 20' });
  }
  let createdAtMs: number | undefined;
  if (input.createdAt !== undefined) {
    createdAtMs = typeof input.createdAt === 'string' && ISO_TIMESTAMP.test(input.createdAt) ? Date.parse(input.createdAt) : NaN;
    if (!Number.isFinite(createdAtMs)) problems.push({ field: 'createdAt', message: 'must be an ISO 8601 UTC timestamp' });
  }
  if (problems.length > 0 || ttlMs === undefined || resendIntervalMs === undefined || !timeZone || startMinutes === undefined || endMinutes === undefined) {
    throw new InvalidInviteInput(problems);
  }
  return {
    inviteId: input.inviteId,
    email: input.email,
    roles: [...new Set(input.roles)],
    data: input.data,
    scope: input.scope,
    locale: input.locale,
    inviter: input.inviter,
    ttlMs,
    // Offsets at or past expiry would remind of a link that no longer works.
    reminderOffsetsMs: [...new Set(reminderOffsetsMs)].filter((ms) => ms < ttlMs).sort((a, b) => a - b),
    sendWindow: { timeZone, startMinutes, endMinutes },
    // Escalating at or before creation would tell the inviter at once about an invite just sent.
    ...(escalateBeforeMs !== undefined && escalateBeforeMs < ttlMs ? { escalateBeforeMs } : {}),
    redirect: input.redirect,
    emailPolicy,
    ...(attribution && Object.keys(attribution).length > 0 ? { attribution } : {}),
    attributionInClaims: input.attributionInClaims === true,
    claimByVerifiedEmail: input.claimByVerifiedEmail === true,
    accountPolicy,
    crmProperties: Array.isArray(crmProperties) ? [...new Set(crmProperties)] : [],
    resendIntervalMs,
    maxResends,
    ...(createdAtMs !== undefined ? { createdAtMs } : {}),
  };
}

/**
 * How far a caller's `createdAt` may lie from the run's start and still be taken as the creation
 * time; further away (a skewed clock, a hand-made input) the first workflow task's time is used.
 */
export const CREATED_AT_TOLERANCE_MS = 5 * 60_000;

/** The creation time of an invite: the caller's when plausible, else `fallbackMs`. */
export function inviteCreatedAt(invite: ResolvedInvite, runStartMs: number, fallbackMs: number): number {
  const given = invite.createdAtMs;
  return given !== undefined && Math.abs(given - runStartMs) <= CREATED_AT_TOLERANCE_MS ? given : fallbackMs;
}

/** The status of an invite created at `createdAtMs`, before its first email: the workflow's initial state. */
export function initialInviteStatus(invite: ResolvedInvite, createdAtMs: number): InviteStatus {
  return {
    inviteId: invite.inviteId,
    state: 'pending',
    email: invite.email,
    scope: invite.scope,
    roles: invite.roles,
    data: invite.data,
    redirect: invite.redirect,
    emailPolicy: invite.emailPolicy,
    locale: invite.locale,
    sendWindow: { timeZone: invite.sendWindow.timeZone, start: clock(invite.sendWindow.startMinutes), end: clock(invite.sendWindow.endMinutes) },
    ...(invite.attribution ? { attribution: invite.attribution } : {}),
    ...(invite.attributionInClaims ? { attributionInClaims: true } : {}),
    ...(invite.claimByVerifiedEmail ? { claimByVerifiedEmail: true } : {}),
    ...(invite.accountPolicy !== 'off' ? { accountPolicy: invite.accountPolicy } : {}),
    ...(invite.crmProperties.length > 0 ? { crmProperties: invite.crmProperties } : {}),
    createdAt: new Date(createdAtMs).toISOString(),
    expiresAt: new Date(createdAtMs + invite.ttlMs).toISOString(),
    emails: [],
  };
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
