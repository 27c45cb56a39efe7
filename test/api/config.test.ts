/** The API's (and the worker's webhook) configuration: defaults, derived values, and refusals that name every bad variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadApiConfig, loadCliConfig, loadWorkerConfig } from '../../lib/config';
import { CRM_PROPERTY_NAME, MAX_CRM_PROPERTIES } from '../../workflows/input';
import { ACCOUNT_POLICIES } from '../../workflows/messages';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';

const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1' };

const minimal = {
  ...TEST_PAYLOAD_ENV,
  LINK_VERIFICATION_KEYS: JSON.stringify([publicJwk]),
  INVITE_ID_KEY: 'x'.repeat(16),
  ACTION_SECRET: 's'.repeat(32),
  AUTH_ISSUER: 'https://tenant.eu.auth0.com/',
  APP_LOGIN_URL: 'https://app.example.com/login',
  AUTH0_DOMAIN: 'tenant.eu.auth0.com',
  AUTH0_CLIENT_ID: 'client',
  AUTH0_CLIENT_SECRET: 'secret',
};

/** The smallest worker configuration (a placeholder private key; nothing is signed). */
const worker = {
  ...TEST_PAYLOAD_ENV,
  LINK_SIGNING_KEY: JSON.stringify({ ...publicJwk, d: 'x' }),
  AUTH0_DOMAIN: 'tenant.eu.auth0.com',
  AUTH0_CLIENT_ID: 'client',
  AUTH0_CLIENT_SECRET: 'secret',
  HUBSPOT_ACCESS_TOKEN: 'pat-na1-x',
};

describe('loadApiConfig', () => {
  it('fills the defaults and derives the JWKS URL from the issuer', () => {
    const cfg = loadApiConfig(minimal);
    expect(cfg).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      PUBLIC_BASE_URL: 'http://localhost:3000',
      LINK_AUDIENCE: 'inviteflow-link',
      AUTH_AUDIENCE: 'https://inviteflow/api',
      AUTH_JWKS_URL: 'https://tenant.eu.auth0.com/.well-known/jwks.json',
      TEMPORAL_ADDRESS: 'localhost:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'invites',
      APP_NAME: 'Acme',
      TRUST_PROXY: false,
      LOG_LEVEL: 'info',
    });
    expect(cfg.LINK_VERIFICATION_KEYS).toEqual([publicJwk]);
    expect(loadApiConfig({ ...minimal, AUTH_ISSUER: 'https://issuer.test', PORT: '8080', TRUST_PROXY: 'true' })).toMatchObject({
      AUTH_JWKS_URL: 'https://issuer.test/.well-known/jwks.json',
      PORT: 8080,
      TRUST_PROXY: true,
    });
    expect(loadApiConfig({ ...minimal, AUTH_JWKS_URL: 'http://127.0.0.1:4010/.well-known/jwks.json' }).AUTH_JWKS_URL).toBe(
      'http://127.0.0.1:4010/.well-known/jwks.json',
    );
  });

  it('refuses to start on missing or weak values, naming each and never its value', () => {
    let error: unknown;
    try {
      loadApiConfig({ ...minimal, ACTION_SECRET: 'short-secret', INVITE_ID_KEY: '', LINK_VERIFICATION_KEYS: 'not json', APP_LOGIN_URL: 'ftp://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['ACTION_SECRET', 'INVITE_ID_KEY', 'LINK_VERIFICATION_KEYS', 'APP_LOGIN_URL']) expect(problems).toContain(name);
    expect(problems).not.toContain('short-secret');
  });
});

/** The problems of a configuration the loader refuses. */
function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('the configuration was accepted');
}

describe('tenant defaults of new invites: ACCOUNT_POLICY and HUBSPOT_TOKEN_PROPERTIES', () => {
  it('default to the policy off and no CRM properties, in the API and the CLI', () => {
    expect(loadApiConfig(minimal)).toMatchObject({ ACCOUNT_POLICY: 'off', HUBSPOT_TOKEN_PROPERTIES: [], HUBSPOT_PROPERTIES_MAX_AGE: 5 * 60_000 });
    expect(loadCliConfig(TEST_PAYLOAD_ENV)).toMatchObject({ ACCOUNT_POLICY: 'off', HUBSPOT_TOKEN_PROPERTIES: [] });
  });

  it('accept every policy the invite input knows, and nothing else, naming the variable', () => {
    for (const policy of ACCOUNT_POLICIES) {
      expect(loadApiConfig({ ...minimal, ACCOUNT_POLICY: policy }).ACCOUNT_POLICY).toBe(policy);
      expect(loadCliConfig({ ...TEST_PAYLOAD_ENV, ACCOUNT_POLICY: policy }).ACCOUNT_POLICY).toBe(policy);
    }
    expect(problemsOf(() => loadApiConfig({ ...minimal, ACCOUNT_POLICY: 'merge' }))).toBe('ACCOUNT_POLICY: must be off, all-verified or link');
    expect(problemsOf(() => loadCliConfig({ ...TEST_PAYLOAD_ENV, ACCOUNT_POLICY: 'Link' }))).toBe('ACCOUNT_POLICY: must be off, all-verified or link');
  });

  it('read the properties comma-separated, trimmed and once each, and need HubSpot to check them', () => {
    const env = { ...minimal, HUBSPOT_TOKEN_PROPERTIES: ' lifecyclestage, company,,company ', HUBSPOT_ACCESS_TOKEN: 'pat-na1-x', HUBSPOT_BASE_PATH: 'http://127.0.0.1:4020' };
    expect(loadApiConfig(env)).toMatchObject({ HUBSPOT_TOKEN_PROPERTIES: ['lifecyclestage', 'company'], HUBSPOT_ACCESS_TOKEN: 'pat-na1-x', HUBSPOT_BASE_PATH: 'http://127.0.0.1:4020' });
    expect(problemsOf(() => loadApiConfig({ ...env, HUBSPOT_ACCESS_TOKEN: '' }))).toMatch(/^HUBSPOT_ACCESS_TOKEN: is required when HUBSPOT_TOKEN_PROPERTIES is set/);
    // The CLI checks in HubSpot only when an invite names properties (cli/crm-properties.ts).
    expect(loadCliConfig({ ...TEST_PAYLOAD_ENV, HUBSPOT_TOKEN_PROPERTIES: 'company' }).HUBSPOT_TOKEN_PROPERTIES).toEqual(['company']);
  });

  it('refuse names that are not HubSpot internal names, and more than an invite may bind, as the invite input does', () => {
    for (const bad of ['Company', 'life cycle', '1st', 'company;phone', 'a-b']) {
      expect(CRM_PROPERTY_NAME.test(bad.split(',')[0]!)).toBe(false);
      expect(problemsOf(() => loadApiConfig({ ...minimal, HUBSPOT_ACCESS_TOKEN: 'pat-na1-x', HUBSPOT_TOKEN_PROPERTIES: bad }))).toContain(
        'HUBSPOT_TOKEN_PROPERTIES',
      );
    }
    const many = Array.from({ length: MAX_CRM_PROPERTIES + 1 }, (_, i) => `p${i}`);
    expect(loadApiConfig({ ...minimal, HUBSPOT_ACCESS_TOKEN: 'x', HUBSPOT_TOKEN_PROPERTIES: many.slice(1).join(',') }).HUBSPOT_TOKEN_PROPERTIES).toHaveLength(MAX_CRM_PROPERTIES);
    expect(problemsOf(() => loadApiConfig({ ...minimal, HUBSPOT_ACCESS_TOKEN: 'x', HUBSPOT_TOKEN_PROPERTIES: many.join(',') }))).toBe(
      `HUBSPOT_TOKEN_PROPERTIES: must name at most ${MAX_CRM_PROPERTIES} properties`,
    );
  });

  it('HUBSPOT_PROPERTIES_MAX_AGE is a bounded duration', () => {
    expect(loadApiConfig({ ...minimal, HUBSPOT_PROPERTIES_MAX_AGE: '30 seconds' }).HUBSPOT_PROPERTIES_MAX_AGE).toBe(30_000);
    expect(problemsOf(() => loadApiConfig({ ...minimal, HUBSPOT_PROPERTIES_MAX_AGE: '2 days' }))).toMatch(/^HUBSPOT_PROPERTIES_MAX_AGE: must be a duration/);
  });
});

describe('AUTH0_ROLES_MAX_AGE', () => {
  it('defaults to 5 minutes and takes a duration, as milliseconds', () => {
    expect(loadApiConfig(minimal).AUTH0_ROLES_MAX_AGE).toBe(5 * 60_000);
    expect(loadApiConfig({ ...minimal, AUTH0_ROLES_MAX_AGE: '30 seconds' }).AUTH0_ROLES_MAX_AGE).toBe(30_000);
    expect(loadApiConfig({ ...minimal, AUTH0_ROLES_MAX_AGE: '1h' }).AUTH0_ROLES_MAX_AGE).toBe(3_600_000);
  });

  it.each(['soon', '0s', '500ms', '2 days'])('refuses %s, naming the variable', (value) => {
    expect(() => loadApiConfig({ ...minimal, AUTH0_ROLES_MAX_AGE: value })).toThrow(/AUTH0_ROLES_MAX_AGE: must be a duration like "5 minutes" between 1 second and 1 day/);
  });
});

describe('webhook secrets', () => {

  it('leaves the funnel webhook and the email-event forms off by default', () => {
    expect(loadWorkerConfig(worker).FUNNEL_WEBHOOK_URL).toBeUndefined();
    const api = loadApiConfig(minimal);
    expect(api.EMAIL_EVENTS_SECRET).toBeUndefined();
    expect(api.MAILGUN_WEBHOOK_SIGNING_KEY).toBeUndefined();
  });

  it('refuses a funnel webhook URL without its secret, and short secrets, never showing them', () => {
    const problems = (env: Record<string, string>, load: (e: Record<string, string>) => unknown) => {
      try {
        load(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(problems({ ...worker, FUNNEL_WEBHOOK_URL: 'https://funnel.example.com/hooks' }, loadWorkerConfig)).toContain('FUNNEL_WEBHOOK_SECRET');
    const short = problems({ ...worker, FUNNEL_WEBHOOK_URL: 'https://funnel.example.com/hooks', FUNNEL_WEBHOOK_SECRET: 'too-short' }, loadWorkerConfig);
    expect(short).toContain('FUNNEL_WEBHOOK_SECRET');
    expect(short).not.toContain('too-short');
    expect(problems({ ...minimal, EMAIL_EVENTS_SECRET: 'too-short' }, loadApiConfig)).toContain('EMAIL_EVENTS_SECRET');
    expect(loadWorkerConfig({ ...worker, FUNNEL_WEBHOOK_URL: 'https://funnel.example.com/hooks', FUNNEL_WEBHOOK_SECRET: 'w'.repeat(32) }).FUNNEL_WEBHOOK_SECRET).toBe('w'.repeat(32));
  });
});

describe('what invitees see', () => {

  it('names the application Acme and sends as it by default; the sender name follows APP_NAME unless set', () => {
    expect(loadWorkerConfig(worker)).toMatchObject({ APP_NAME: 'Acme', MAIL_FROM_NAME: 'Acme', MAIL_FROM: 'invites@acme.example' });
    expect(loadApiConfig(minimal).APP_NAME).toBe('Acme');
    expect(loadWorkerConfig({ ...worker, APP_NAME: 'Globex' })).toMatchObject({ APP_NAME: 'Globex', MAIL_FROM_NAME: 'Globex' });
    expect(loadWorkerConfig({ ...worker, APP_NAME: 'Globex', MAIL_FROM_NAME: 'Globex Team' }).MAIL_FROM_NAME).toBe('Globex Team');
  });

  it('refuses a display name inside MAIL_FROM and a name that spans lines', () => {
    for (const env of [{ MAIL_FROM: 'Acme <invites@acme.example>' }, { APP_NAME: 'Acme\r\nBcc: x@evil.example' }, { MAIL_FROM_NAME: 'A\nB' }]) {
      expect(() => loadWorkerConfig({ ...worker, ...env }), JSON.stringify(env)).toThrow(ConfigError);
    }
  });
});
