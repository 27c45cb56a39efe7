/**
 * Auth0 tenant setup through the Management API, with an admin machine-to-machine credential
 * used only for this: our API (resource server) and its permissions, the inviteflow application
 * the worker and the API use (Management API scopes: exactly what they call), the funnel's
 * application (`invites:create` on our API), the roles invites grant, and the post-login Action
 * with its secrets (deployed by `actions/deploy.ts`). Idempotent: what exists is found by name or
 * identifier and left alone, missing scopes are added, nothing is deleted.
 *
 * CLI: `tsx scripts/setup/auth0.ts [--roles a,b,c] [--update-action] [--skip-action]`, configured
 * by the environment (see `loadAuth0SetupEnv`). It prints each step and the lines to put in the
 * worker's, the API's and the funnel's configuration; client secrets only when the application
 * was created by this run (Auth0 never shows them again here), the Action secret only when this
 * run generated it.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ManagementClient } from 'auth0';
import { z } from 'zod';
import { buildAction } from '../../actions/build';
import { DEFAULT_ACTION_NAME, POST_LOGIN_TRIGGER, deployFromEnv, loadDeployEnv } from '../../actions/deploy';
import { createManagementClient } from '../../services/auth0';

/**
 * Management API scopes of the inviteflow application, from what the code calls: `roles.list`
 * (read:roles), `users.roles.assign` (create:role_members), `users.get` (read:users),
 * `users.update` for app_metadata and email_verified (update:users), and the API's
 * `users.listUsersByEmail` (read:users) and the worker's `findAuth0Accounts`, and the account
 * policy `link`'s `users.identities.link` (update:users). Nothing reads role members, so no read:role_members.
 */
export const INVITEFLOW_MANAGEMENT_SCOPES = [
  'read:users',
  'update:users',
  'read:roles',
  'create:role_members',
];

/** The permissions of our API, checked by `api/auth.ts`. */
export const API_PERMISSIONS = [
  { value: 'invites:create', description: 'Start invites (the funnel backend)' },
  { value: 'invites:read', description: 'Read and search invites (operators)' },
  { value: 'invites:write', description: 'Revoke, resend and extend invites (operators)' },
];

/** What the funnel backend may do: start invites, nothing else. */
export const FUNNEL_SCOPES = ['invites:create'];

/** What the admin credential running this script needs on the Management API. */
export const SETUP_ADMIN_SCOPES = [
  'read:resource_servers',
  'create:resource_servers',
  'update:resource_servers',
  'read:clients',
  'create:clients',
  'read:client_grants',
  'create:client_grants',
  'update:client_grants',
  'read:roles',
  'create:roles',
  'read:actions',
  'create:actions',
  'update:actions',
  'read:triggers',
  'update:triggers',
];

/** Names the applications are found by on later runs. */
export const APPLICATION_NAMES = { inviteflow: 'inviteflow service', funnel: 'inviteflow funnel' } as const;

/** Display name of our API in the Auth0 dashboard. */
export const API_NAME = 'inviteflow API';

// The setup credential is only used here, so the SDK may retry 429s itself (honouring
// Retry-After / X-RateLimit-Reset): the free tier allows 2 Management API calls per second.
const RETRY = { maxRetries: 4 } as const;

/** What one step found or did. */
export interface Auth0SetupStep {
  kind: 'API' | 'application' | 'client grant' | 'role' | 'Action';
  name: string;
  outcome: 'created' | 'updated' | 'present';
  detail?: string;
}

/** An application's id, and its secret when this run created it. */
export interface ApplicationCredentials {
  clientId: string;
  /** Only when created by this run: the one moment Auth0 hands it out here. */
  clientSecret?: string;
}

/** The post-login Action's configuration; the secrets it gets are those of `actions/deploy.ts`. */
export interface ActionSetup {
  /** Origin of our API, the Action's INVITEFLOW_API_URL. */
  apiUrl: string;
  /** The API's ACTION_SECRET; generated when absent and the Action does not exist yet. */
  actionSecret?: string;
  onRefusal?: 'continue' | 'deny';
  claimNamespace?: string;
  inviteParam?: string;
  actionName?: string;
  /** Redeploy even when the deployed code is current (to change a secret's value). */
  update?: boolean;
}

/** Inputs of `setupAuth0Tenant`. */
export interface Auth0SetupOptions {
  /** Built with the admin credential (see `SETUP_ADMIN_SCOPES`). */
  management: ManagementClient;
  /** Tenant domain, e.g. `acme.eu.auth0.com`; the Management API's audience derives from it. */
  domain: string;
  /** The admin credential again: `actions/deploy.ts` builds its own client from it. */
  admin: { clientId: string; clientSecret: string; endpoint?: string };
  /** Our API's identifier (AUTH_AUDIENCE). */
  audience: string;
  /** Role names invites grant; created when missing. */
  roles: string[];
  /** The post-login Action, or `false` to leave Actions alone. */
  action: ActionSetup | false;
}

/** What `setupAuth0Tenant` did and what the processes need to know. */
export interface Auth0SetupResult {
  steps: Auth0SetupStep[];
  inviteflow: ApplicationCredentials;
  funnel: ApplicationCredentials;
  /** Only when this run generated it: the API's ACTION_SECRET, now also the Action's. */
  generatedActionSecret?: string;
}

const union = (a: string[], b: string[]): string[] => [...new Set([...a, ...b])];

async function ensureApi(management: ManagementClient, audience: string): Promise<Auth0SetupStep> {
  const wanted = API_PERMISSIONS.map((p) => p.value);
  const page = await management.resourceServers.list({ identifiers: [audience] }, RETRY);
  for await (const rs of page) {
    if (rs.identifier !== audience || !rs.id) continue;
    const have = (rs.scopes ?? []).map((s) => s.value);
    const missing = API_PERMISSIONS.filter((p) => !have.includes(p.value));
    if (missing.length === 0)
      return { kind: 'API', name: audience, outcome: 'present', detail: wanted.join(' ') };
    // A PATCH replaces the whole list, so the API's other permissions are sent back too.
    await management.resourceServers.update(rs.id, { scopes: [...(rs.scopes ?? []), ...missing] }, RETRY);
    return {
      kind: 'API',
      name: audience,
      outcome: 'updated',
      detail: `added ${missing.map((p) => p.value).join(' ')}`,
    };
  }
  await management.resourceServers.create(
    {
      name: API_NAME,
      identifier: audience,
      scopes: API_PERMISSIONS,
      // api/auth.ts verifies with the tenant's JWKS: an asymmetric algorithm, never HS256.
      signing_alg: 'RS256',
      allow_offline_access: false,
      skip_consent_for_verifiable_first_party_clients: true,
    },
    RETRY,
  );
  return { kind: 'API', name: audience, outcome: 'created', detail: wanted.join(' ') };
}

async function ensureApplication(
  management: ManagementClient,
  name: string,
  description: string,
): Promise<{ step: Auth0SetupStep; credentials: ApplicationCredentials }> {
  const matches: string[] = [];
  const page = await management.clients.list(
    { fields: 'client_id,name,app_type,global', include_fields: true },
    RETRY,
  );
  for await (const client of page) {
    if (client.name !== name || client.global || !client.client_id) continue;
    // Creating a second one beside it would leave two applications of that name to confuse.
    if (client.app_type !== 'non_interactive')
      throw new Error(
        `the application "${name}" (${client.client_id}) is not machine-to-machine; rename or delete it`,
      );
    matches.push(client.client_id);
  }
  if (matches.length > 1)
    throw new Error(
      `several machine-to-machine applications are named "${name}" (${matches.join(', ')}); rename all but one`,
    );
  if (matches[0])
    return {
      step: { kind: 'application', name, outcome: 'present', detail: matches[0] },
      credentials: { clientId: matches[0] },
    };

  const created = await management.clients.create(
    {
      name,
      description,
      app_type: 'non_interactive',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
    },
    RETRY,
  );
  if (!created.client_id || !created.client_secret)
    throw new Error(`Auth0 created "${name}" without an id or secret`);
  return {
    step: { kind: 'application', name, outcome: 'created', detail: created.client_id },
    credentials: { clientId: created.client_id, clientSecret: created.client_secret },
  };
}

async function ensureGrant(
  management: ManagementClient,
  client: { id: string; name: string },
  audience: string,
  scopes: string[],
): Promise<Auth0SetupStep> {
  const name = `${client.name} → ${audience}`;
  const page = await management.clientGrants.list({ client_id: client.id, audience }, RETRY);
  for await (const grant of page) {
    if (grant.client_id !== client.id || grant.audience !== audience || !grant.id) continue;
    const have = grant.scope ?? [];
    const missing = scopes.filter((s) => !have.includes(s));
    if (missing.length === 0)
      return { kind: 'client grant', name, outcome: 'present', detail: scopes.join(' ') };
    await management.clientGrants.update(grant.id, { scope: union(have, scopes) }, RETRY);
    return { kind: 'client grant', name, outcome: 'updated', detail: `added ${missing.join(' ')}` };
  }
  await management.clientGrants.create({ client_id: client.id, audience, scope: scopes }, RETRY);
  return { kind: 'client grant', name, outcome: 'created', detail: scopes.join(' ') };
}

async function ensureRole(management: ManagementClient, name: string): Promise<Auth0SetupStep> {
  // name_filter is a case-insensitive contains-match; the exact name is picked here, as the
  // worker's role lookup does.
  const page = await management.roles.list({ name_filter: name, per_page: 100 }, RETRY);
  for await (const role of page) if (role.name === name) return { kind: 'role', name, outcome: 'present' };
  await management.roles.create({ name, description: 'Granted by inviteflow invites' }, RETRY);
  return { kind: 'role', name, outcome: 'created' };
}

async function findAction(
  management: ManagementClient,
  name: string,
): Promise<{ id: string; code?: string; allChangesDeployed: boolean } | undefined> {
  const page = await management.actions.list({ actionName: name }, RETRY);
  for await (const listed of page) {
    if (listed.name !== name || !listed.id) continue;
    // Read it whole: the draft's code and whether it is what is deployed.
    const action = await management.actions.get(listed.id, RETRY);
    return {
      id: listed.id,
      ...(action.code === undefined ? {} : { code: action.code }),
      allChangesDeployed: action.all_changes_deployed === true,
    };
  }
  return undefined;
}

async function boundToPostLogin(management: ManagementClient, actionId: string): Promise<boolean> {
  const page = await management.actions.triggers.bindings.list(POST_LOGIN_TRIGGER.id, {}, RETRY);
  for await (const binding of page) if (binding.action?.id === actionId) return true;
  return false;
}

async function ensureAction(
  opts: Auth0SetupOptions,
  action: ActionSetup,
): Promise<{ step: Auth0SetupStep; generatedSecret?: string }> {
  const name = action.actionName ?? DEFAULT_ACTION_NAME;
  const existing = await findAction(opts.management, name);
  const { code } = await buildAction();
  // Auth0 never returns secret values, so "unchanged" can only mean: the deployed code is this
  // build and the Action is bound. A changed secret value needs `update`.
  if (
    existing &&
    !action.update &&
    existing.code === code &&
    existing.allChangesDeployed &&
    (await boundToPostLogin(opts.management, existing.id))
  )
    return { step: { kind: 'Action', name, outcome: 'present', detail: existing.id } };

  let secret = action.actionSecret;
  let generatedSecret: string | undefined;
  if (secret === undefined) {
    // Every update replaces all of the Action's secrets, so an existing Action can only be
    // redeployed with the secret the API already holds.
    if (existing)
      throw new Error(
        `the Action "${name}" must be redeployed (new code, --update-action, or not bound) and Auth0 replaces all its secrets: set ACTION_SECRET to the API's value`,
      );
    generatedSecret = randomBytes(32).toString('base64url');
    secret = generatedSecret;
  }

  const deployEnv = loadDeployEnv({
    AUTH0_DOMAIN: opts.domain,
    AUTH0_CLIENT_ID: opts.admin.clientId,
    AUTH0_CLIENT_SECRET: opts.admin.clientSecret,
    AUTH0_MANAGEMENT_ENDPOINT: opts.admin.endpoint,
    INVITEFLOW_API_URL: action.apiUrl,
    INVITEFLOW_ACTION_SECRET: secret,
    ON_REFUSAL: action.onRefusal,
    CLAIM_NAMESPACE: action.claimNamespace,
    INVITE_PARAM: action.inviteParam,
    ACTION_NAME: name,
  });
  const deployed = await deployFromEnv(deployEnv);
  return {
    step: {
      kind: 'Action',
      name,
      outcome: deployed.created ? 'created' : 'updated',
      detail: `${deployed.actionId}, version ${deployed.versionNumber}, post-login binding ${deployed.binding}`,
    },
    ...(generatedSecret ? { generatedSecret } : {}),
  };
}

/** Creates or completes everything inviteflow needs in the tenant; safe to run again. */
export async function setupAuth0Tenant(opts: Auth0SetupOptions): Promise<Auth0SetupResult> {
  const { management, audience } = opts;
  const managementAudience = `https://${opts.domain}/api/v2/`;
  const steps: Auth0SetupStep[] = [];

  steps.push(await ensureApi(management, audience));

  const inviteflow = await ensureApplication(
    management,
    APPLICATION_NAMES.inviteflow,
    'inviteflow worker and API: assigns roles, writes app_metadata, checks accounts',
  );
  steps.push(inviteflow.step);
  steps.push(
    await ensureGrant(
      management,
      { id: inviteflow.credentials.clientId, name: APPLICATION_NAMES.inviteflow },
      managementAudience,
      INVITEFLOW_MANAGEMENT_SCOPES,
    ),
  );

  const funnel = await ensureApplication(
    management,
    APPLICATION_NAMES.funnel,
    'Funnel backend: starts inviteflow invites',
  );
  steps.push(funnel.step);
  steps.push(
    await ensureGrant(
      management,
      { id: funnel.credentials.clientId, name: APPLICATION_NAMES.funnel },
      audience,
      FUNNEL_SCOPES,
    ),
  );

  for (const role of [...new Set(opts.roles)]) steps.push(await ensureRole(management, role));

  let generatedActionSecret: string | undefined;
  if (opts.action) {
    const action = await ensureAction(opts, opts.action);
    steps.push(action.step);
    generatedActionSecret = action.generatedSecret;
  }

  return {
    steps,
    inviteflow: inviteflow.credentials,
    funnel: funnel.credentials,
    ...(generatedActionSecret ? { generatedActionSecret } : {}),
  };
}

/** The report and configuration lines the operator copies; secrets only when just created. */
export function formatAuth0Setup(
  result: Auth0SetupResult,
  cfg: { domain: string; audience: string },
): string {
  const secretLine = (name: string, value: string | undefined, what: string) =>
    value === undefined
      ? `# ${name}: unchanged (${what} existed before this run; Auth0 shows its secret in the dashboard)`
      : `${name}=${value}`;
  return [
    `Auth0 tenant ${cfg.domain}`,
    ...result.steps.map(
      (s) => `${s.outcome.padEnd(8)} ${s.kind} ${s.name}${s.detail ? ` (${s.detail})` : ''}`,
    ),
    '',
    '# worker and api',
    `AUTH0_DOMAIN=${cfg.domain}`,
    `AUTH0_CLIENT_ID=${result.inviteflow.clientId}`,
    secretLine(
      'AUTH0_CLIENT_SECRET',
      result.inviteflow.clientSecret,
      `the "${APPLICATION_NAMES.inviteflow}" application`,
    ),
    '# api',
    `AUTH_ISSUER=https://${cfg.domain}/`,
    `AUTH_AUDIENCE=${cfg.audience}`,
    ...(result.generatedActionSecret !== undefined
      ? [`ACTION_SECRET=${result.generatedActionSecret}`]
      : result.steps.some((s) => s.kind === 'Action')
        ? ['# ACTION_SECRET: unchanged (the Action holds the value the API already has)']
        : []),
    `# funnel backend: client credentials at https://${cfg.domain}/oauth/token, audience ${cfg.audience}, scope ${FUNNEL_SCOPES.join(' ')}`,
    `INVITEFLOW_CLIENT_ID=${result.funnel.clientId}`,
    secretLine(
      'INVITEFLOW_CLIENT_SECRET',
      result.funnel.clientSecret,
      `the "${APPLICATION_NAMES.funnel}" application`,
    ),
    '',
  ].join('\n');
}

const url = z.url({ protocol: /^https?$/ });

const setupEnv = z.object({
  AUTH0_DOMAIN: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name like tenant.eu.auth0.com'),
  /** The admin M2M credential of this script (SETUP_ADMIN_SCOPES), not the worker's. */
  AUTH0_ADMIN_CLIENT_ID: z.string().min(1),
  AUTH0_ADMIN_CLIENT_SECRET: z.string().min(1),
  /** Only for local emulators: where requests to https://AUTH0_DOMAIN really go. */
  AUTH0_MANAGEMENT_ENDPOINT: url.optional(),
  AUTH_AUDIENCE: z.string().min(1).default('https://inviteflow/api'),
  /** Our API's public origin, which the Action calls; required unless --skip-action. */
  INVITEFLOW_API_URL: url.optional(),
  /** The API's ACTION_SECRET; generated on the first deploy when unset. */
  ACTION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ON_REFUSAL: z.enum(['continue', 'deny']).optional(),
  CLAIM_NAMESPACE: z.string().optional(),
  INVITE_PARAM: z.string().optional(),
  ACTION_NAME: z.string().min(1).optional(),
});

/** Configuration of the setup CLI. */
export type Auth0SetupEnv = z.infer<typeof setupEnv>;

/** Reads the CLI's environment; throws listing every bad variable (never their values). */
export function loadAuth0SetupEnv(env: Record<string, string | undefined>): Auth0SetupEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = setupEnv.safeParse(cleaned);
  if (!parsed.success)
    throw new Error(
      `invalid configuration:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`,
    );
  return parsed.data;
}

/** Runs the CLI and returns what it prints. */
export async function runAuth0Setup(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      roles: { type: 'string', default: '' },
      'update-action': { type: 'boolean', default: false },
      'skip-action': { type: 'boolean', default: false },
    },
  });
  const cfg = loadAuth0SetupEnv(env);
  const roles = values.roles
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (!values['skip-action'] && !cfg.INVITEFLOW_API_URL)
    throw new Error(
      'INVITEFLOW_API_URL (our API origin, called by the Action) is required unless --skip-action',
    );

  const admin = {
    clientId: cfg.AUTH0_ADMIN_CLIENT_ID,
    clientSecret: cfg.AUTH0_ADMIN_CLIENT_SECRET,
    ...(cfg.AUTH0_MANAGEMENT_ENDPOINT ? { endpoint: cfg.AUTH0_MANAGEMENT_ENDPOINT } : {}),
  };
  const management = createManagementClient({ domain: cfg.AUTH0_DOMAIN, ...admin });
  const result = await setupAuth0Tenant({
    management,
    domain: cfg.AUTH0_DOMAIN,
    admin,
    audience: cfg.AUTH_AUDIENCE,
    roles,
    action:
      values['skip-action'] || !cfg.INVITEFLOW_API_URL
        ? false
        : {
            apiUrl: cfg.INVITEFLOW_API_URL,
            update: values['update-action'],
            ...(cfg.ACTION_SECRET ? { actionSecret: cfg.ACTION_SECRET } : {}),
            ...(cfg.ON_REFUSAL ? { onRefusal: cfg.ON_REFUSAL } : {}),
            ...(cfg.CLAIM_NAMESPACE ? { claimNamespace: cfg.CLAIM_NAMESPACE } : {}),
            ...(cfg.INVITE_PARAM ? { inviteParam: cfg.INVITE_PARAM } : {}),
            ...(cfg.ACTION_NAME ? { actionName: cfg.ACTION_NAME } : {}),
          },
  });
  return formatAuth0Setup(result, { domain: cfg.AUTH0_DOMAIN, audience: cfg.AUTH_AUDIENCE });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runAuth0Setup(process.argv.slice(2), process.env)
    .then((out) => process.stdout.write(out))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
