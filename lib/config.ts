/**
 * Typed configuration, read from the environment once at start-up and passed down. A process
 * refuses to start on a missing or malformed value and names every one of them. Every variable
 * is listed in `.env.example` with its default.
 */
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';
import type { Duration } from '@temporalio/common';

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

const jwk = z.looseObject({ kty: z.string(), kid: z.string().min(1) });
const url = z.url({ protocol: /^https?$/ });

const temporal = {
  TEMPORAL_ADDRESS: z.string().default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('invites'),
  /** Temporal Cloud API key; turns TLS on. */
  TEMPORAL_API_KEY: z.string().optional(),
  /** mTLS client certificate (PEM file path); needs TEMPORAL_TLS_KEY, turns TLS on. */
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  /** Private key of TEMPORAL_TLS_CERT (PEM file path). */
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  /**
   * Keys that encrypt every Temporal payload and failure message (JSON array of `{ id, key }`,
   * key = 32 bytes base64); the first encrypts, all decrypt. Required unless PAYLOAD_ENCRYPTION=off.
   */
  PAYLOAD_KEYS: jsonOf(
    z
      .array(z.object({ id: z.string().regex(/^[\w.-]{1,64}$/, 'key ids are 1-64 of A-Z a-z 0-9 _ . -'), key: z.string().regex(/^[A-Za-z0-9+/]{43}=?$/, 'must be 32 bytes in base64') }))
      .min(1)
      .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, 'key ids must be unique'),
  ).optional(),
  /**
   * `on` (default): every process refuses to start without PAYLOAD_KEYS. `off`, set on purpose:
   * invitees' emails and data are stored in clear in Temporal.
   */
  PAYLOAD_ENCRYPTION: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
};

/**
 * Payload encryption is on unless turned off on purpose: without keys a process refuses to start
 * instead of silently writing personal data in clear; keys with `off` are a contradiction.
 */
function checkPayloadEncryption(cfg: { PAYLOAD_KEYS?: unknown; PAYLOAD_ENCRYPTION: 'on' | 'off' }, ctx: z.RefinementCtx): void {
  if (cfg.PAYLOAD_ENCRYPTION === 'on' && !cfg.PAYLOAD_KEYS) {
    ctx.addIssue({
      code: 'custom',
      path: ['PAYLOAD_KEYS'],
      message:
        'is required: payload encryption is on by default so that invitees\' emails and data are never stored in clear in Temporal. ' +
        'Give every worker, API and CLI the same keys (see docs/encryption.md), or set PAYLOAD_ENCRYPTION=off to store them in clear on purpose',
    });
  }
  if (cfg.PAYLOAD_ENCRYPTION === 'off' && cfg.PAYLOAD_KEYS) {
    ctx.addIssue({
      code: 'custom',
      path: ['PAYLOAD_ENCRYPTION'],
      message: 'is off while PAYLOAD_KEYS is set: remove one of them (keys without encryption would be ignored)',
    });
  }
}

const links = {
  PUBLIC_BASE_URL: url.default('http://localhost:3000'),
  LINK_AUDIENCE: z.string().default('inviteflow-link'),
};

// Rate limits are per worker process: with N workers sharing one limit, give each 1/N of it.
const positiveInt = z.string().regex(/^[1-9]\d*$/, 'must be a positive integer').transform(Number);
const perSecond = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be requests per second (e.g. 2 or 0.5), or 0 to turn pacing off')
  .transform(Number);
const INTERVAL_UNITS = { ms: 1, s: 1000, m: 60_000 } as const;
const perInterval = z
  .string()
  .regex(/^(0|[1-9]\d*\/[1-9]\d*(ms|s|m))$/, 'must be <max>/<interval> like 100/10s (interval in ms, s or m), or 0 to turn pacing off')
  .transform((text) => {
    const match = /^(\d+)\/(\d+)(ms|s|m)$/.exec(text);
    return match ? { max: Number(match[1]), intervalMs: Number(match[2]) * INTERVAL_UNITS[match[3] as keyof typeof INTERVAL_UNITS] } : undefined;
  });

/** A duration such as `5 minutes`, `30s` or `1h`, as milliseconds, between `min` and `max`. */
const durationMs = (min: Duration, max: Duration) => {
  const [lo, hi] = [msToNumber(min), msToNumber(max)];
  return z.string().transform((text, ctx) => {
    let ms: number;
    try {
      ms = msToNumber(text as Duration);
    } catch {
      ms = NaN;
    }
    if (!(Number.isFinite(ms) && ms >= lo && ms <= hi)) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "5 minutes" between ${String(min)} and ${String(max)}` });
      return z.NEVER;
    }
    return ms;
  });
};

// Shown in headers and pages: one line, no control characters.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const appName = z.string().trim().min(1).max(100).regex(/^[^\u0000-\u001f\u007f\u2028\u2029]+$/, 'must be one line of text');

const workerFields = z.object({
  ...temporal,
  ...links,
  /** Private Ed25519 JWK (with kid) that signs invite links. */
  LINK_SIGNING_KEY: jsonOf(jwk),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').default('smtp://127.0.0.1:1025'),
  /** The sender's address; its display name is MAIL_FROM_NAME. */
  MAIL_FROM: z
    .string()
    .regex(/^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/, 'must be a plain address like invites@example.com (the display name is MAIL_FROM_NAME)')
    .default('invites@acme.example'),
  /** The application's name, as invitees know it: in every email and page. */
  APP_NAME: appName.default('Acme'),
  /** The display name of the sender; default APP_NAME. */
  MAIL_FROM_NAME: appName.optional(),
  AUTH0_DOMAIN: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name like tenant.eu.auth0.com'),
  AUTH0_CLIENT_ID: z.string().min(1),
  AUTH0_CLIENT_SECRET: z.string().min(1),
  /** Only for local emulators: where requests to https://AUTH0_DOMAIN really go. */
  AUTH0_MANAGEMENT_ENDPOINT: url.optional(),
  HUBSPOT_ACCESS_TOKEN: z.string().min(1),
  /** Only for local emulators: replaces https://api.hubapi.com. */
  HUBSPOT_BASE_PATH: url.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** host:port of the worker's Prometheus endpoint (Temporal SDK metrics and ours); off when empty. */
  WORKER_METRICS_ADDRESS: z.string().regex(/^[\w.-]+:\d+$/, 'must be host:port').optional(),
  /** Workflows kept in the worker's sticky cache; default `DEFAULT_MAX_CACHED_WORKFLOWS` (worker/worker.ts). */
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt.optional(),
  /**
   * Management API requests per second this worker process sends (activities/outbound-pacer.ts). 2 is the
   * free and developer plans' limit; paid plans allow more (see the tenant's rate-limit policy).
   * 0 turns pacing off, leaving only retries on 429.
   */
  AUTH0_MGMT_RATE_LIMIT: perSecond.prefault('2'),
  /** Requests that may go out together; default the rate rounded down (at least 1). */
  AUTH0_MGMT_RATE_BURST: positiveInt.optional(),
  /**
   * HubSpot requests per rolling interval this worker process sends: `100/10s` is a free or
   * Starter private app's limit, `190/10s` Professional and Enterprise. 0 turns pacing off.
   */
  HUBSPOT_RATE_LIMIT: perInterval.prefault('100/10s'),
  /** Where signed invite events go (undeliverable, completed, failed, stale); off when empty. */
  FUNNEL_WEBHOOK_URL: url.optional(),
  /** HMAC key of the funnel webhook's signatures; required with FUNNEL_WEBHOOK_URL. */
  FUNNEL_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
});

const workerSchema = workerFields.superRefine(checkPayloadEncryption).refine((cfg) => !cfg.FUNNEL_WEBHOOK_URL || cfg.FUNNEL_WEBHOOK_SECRET, {
  path: ['FUNNEL_WEBHOOK_SECRET'],
  message: 'is required when FUNNEL_WEBHOOK_URL is set',
}).transform((cfg) => ({ ...cfg, MAIL_FROM_NAME: cfg.MAIL_FROM_NAME ?? cfg.APP_NAME }));

/** Thrown when the environment is incomplete or malformed; lists every bad variable, never values. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function parse<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.infer<T> {
  // Empty strings (a `VAR=` line in .env) mean "unset", so defaults apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}

/** Configuration of the worker process. */
export type WorkerConfig = z.output<typeof workerSchema>;

/** Reads and validates the worker's configuration. */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return parse(workerSchema, env);
}

/** The Temporal part of any process's configuration. */
export type TemporalConfig = Pick<
  WorkerConfig,
  'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TASK_QUEUE' | 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'PAYLOAD_KEYS'
>;

/**
 * The tenant's defaults of a new invite (api and cli). An invite that names its own wins; the
 * resolved value is written into the invite, so changing a default never changes a running one.
 * The names and bounds are the invite input's (`workflows/input.ts`), which lib cannot import; a
 * test holds them together.
 */
const inviteDefaults = {
  /** Which Auth0 accounts of the person get the grant (docs/accounts.md): off, all-verified or link. */
  ACCOUNT_POLICY: z.enum(['off', 'all-verified', 'link'], { message: 'must be off, all-verified or link' }).default('off'),
  /** HubSpot contact properties (internal names, comma-separated) bound to every invite that names none. */
  HUBSPOT_TOKEN_PROPERTIES: z
    .string()
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))])
    .pipe(
      z
        .array(z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'must be HubSpot property internal names (a-z, 0-9, _) separated by commas'))
        .max(20, 'must name at most 20 properties'),
    )
    .default([]),
};

/** The HubSpot private app that creations check CRM property names with (api and cli). */
const hubspotCheck = {
  HUBSPOT_ACCESS_TOKEN: z.string().min(1).optional(),
  HUBSPOT_BASE_PATH: url.optional(),
};

/** The tenant's default CRM properties need HubSpot to check them at creation. */
function checkHubSpotDefaults(cfg: { HUBSPOT_TOKEN_PROPERTIES: string[]; HUBSPOT_ACCESS_TOKEN?: string | undefined }, ctx: z.RefinementCtx): void {
  if (cfg.HUBSPOT_TOKEN_PROPERTIES.length > 0 && !cfg.HUBSPOT_ACCESS_TOKEN) {
    ctx.addIssue({
      code: 'custom',
      path: ['HUBSPOT_ACCESS_TOKEN'],
      message: 'is required when HUBSPOT_TOKEN_PROPERTIES is set (the property names are checked in HubSpot when an invite is created)',
    });
  }
}

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const inviteIdKey = z.string().min(16, 'must be at least 16 characters');

const apiSchema = z
  .object({
    ...temporal,
    ...links,
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Interface to listen on; containers need all interfaces. */
    HOST: z.string().min(1).default('0.0.0.0'),
    /** Public Ed25519 JWKs (a JSON array) that link tokens may be signed with; several during a rotation. */
    LINK_VERIFICATION_KEYS: jsonOf(z.array(jwk).min(1)),
    /** Key of the keyed hash that turns email+scope into an invite id; changing it orphans open invites. */
    INVITE_ID_KEY: inviteIdKey,
    /** HS256 secret shared only with the Auth0 Action that calls `POST /v1/redemptions`. */
    ACTION_SECRET: z.string().min(32, 'must be at least 32 characters'),
    /** Issuer of the funnel's and operators' access tokens, e.g. `https://tenant.eu.auth0.com/`. */
    AUTH_ISSUER: url,
    AUTH_AUDIENCE: z.string().min(1).default('https://inviteflow/api'),
    /** Where the issuer's keys are; default `${AUTH_ISSUER}.well-known/jwks.json`. */
    AUTH_JWKS_URL: url.optional(),
    /** The customer space's login route; the landing page's button goes there with `invite`, `login_hint`, `screen_hint`, `ui_locales`. */
    APP_LOGIN_URL: url,
    APP_NAME: appName.default('Acme'),
    AUTH0_DOMAIN: workerFields.shape.AUTH0_DOMAIN,
    AUTH0_CLIENT_ID: workerFields.shape.AUTH0_CLIENT_ID,
    AUTH0_CLIENT_SECRET: workerFields.shape.AUTH0_CLIENT_SECRET,
    AUTH0_MANAGEMENT_ENDPOINT: workerFields.shape.AUTH0_MANAGEMENT_ENDPOINT,
    /**
     * Longest time the API answers role checks from its copy of the tenant's roles before reading
     * them again (a name missing from the copy is looked up at once). A role deleted in Auth0 is
     * still accepted for up to this long.
     */
    AUTH0_ROLES_MAX_AGE: durationMs('1 second', '1 day').prefault('5 minutes'),
    ...inviteDefaults,
    /**
     * The HubSpot private app whose contact properties `crmProperties` are checked against at
     * creation; without it, an invite naming CRM properties is refused.
     */
    ...hubspotCheck,
    /**
     * Longest time the API answers CRM property checks from its copy of HubSpot's contact
     * properties before reading them again (a name missing from the copy is looked up at once).
     */
    HUBSPOT_PROPERTIES_MAX_AGE: durationMs('1 second', '1 day').prefault('5 minutes'),
    /** Behind a load balancer, trust its X-Forwarded-For so rate limits key on the real client. */
    TRUST_PROXY: flag.default(false),
    /**
     * Local development only: the codec endpoint answers without a bearer token to a browser or
     * CLI on this machine (loopback address and Host, no proxy headers, no other Origin than
     * CODEC_CORS_ORIGIN). `npm run dev` sets it; never in production.
     */
    CODEC_LOOPBACK_WITHOUT_TOKEN: flag.default(false),
    /** Origin of the Temporal UI allowed to call `/codec/*` (only served when PAYLOAD_KEYS is set). */
    CODEC_CORS_ORIGIN: z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://temporal.example.com').default('http://localhost:8233'),
    LOG_LEVEL: workerFields.shape.LOG_LEVEL,
    /** HMAC key of the generic signed email-events webhook (`POST /v1/email-events`); off when empty. */
    EMAIL_EVENTS_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Scopes whose invites may be claimed by verified email unless the request says otherwise (comma-separated). */
    CLAIM_BY_EMAIL_SCOPES: z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, 'must be scopes separated by commas')))
      .default([]),
    /** Mailgun's webhook signing key (`POST /v1/email-events/mailgun`); off when empty. */
    MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  })
  .superRefine(checkPayloadEncryption)
  .superRefine(checkHubSpotDefaults)
  .refine((cfg) => !(cfg.CODEC_LOOPBACK_WITHOUT_TOKEN && cfg.TRUST_PROXY), {
    path: ['CODEC_LOOPBACK_WITHOUT_TOKEN'],
    message: 'is for local development only and cannot be combined with TRUST_PROXY (behind a proxy every request looks local)',
  })
  .transform((cfg) => ({
    ...cfg,
    AUTH_JWKS_URL:
      cfg.AUTH_JWKS_URL ?? new URL('.well-known/jwks.json', cfg.AUTH_ISSUER.endsWith('/') ? cfg.AUTH_ISSUER : `${cfg.AUTH_ISSUER}/`).href,
  }));

/** Configuration of the API process. */
export type ApiConfig = z.output<typeof apiSchema>;

/** Reads and validates the API's configuration. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parse(apiSchema, env);
}

const cliSchema = z.object({
  ...temporal,
  /** Same key as the API's; only `bulk` and lookups by email need it (they derive invite ids). */
  INVITE_ID_KEY: inviteIdKey.optional(),
  /** The Auth0 application the API uses; `bulk` needs it to check role names (only when rows name roles). */
  AUTH0_DOMAIN: workerFields.shape.AUTH0_DOMAIN.optional(),
  AUTH0_CLIENT_ID: workerFields.shape.AUTH0_CLIENT_ID.optional(),
  AUTH0_CLIENT_SECRET: workerFields.shape.AUTH0_CLIENT_SECRET.optional(),
  AUTH0_MANAGEMENT_ENDPOINT: workerFields.shape.AUTH0_MANAGEMENT_ENDPOINT,
  /** The API's tenant defaults: `create` and `bulk` apply them as the API does. */
  ...inviteDefaults,
  /** The API's HubSpot private app; `create` and `bulk` need it to check CRM property names (only when invites name some). */
  ...hubspotCheck,
}).superRefine(checkPayloadEncryption);

/** Configuration of the operator CLI. */
export type CliConfig = z.infer<typeof cliSchema>;

/** Reads and validates the CLI's configuration. */
export function loadCliConfig(env: Record<string, string | undefined> = process.env): CliConfig {
  return parse(cliSchema, env);
}
