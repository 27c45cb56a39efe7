/**
 * Deploys the post-login Action through the Auth0 Management API with the real `auth0` SDK:
 * create it (or update its code and secrets), wait for Auth0 to build the draft, deploy it, and
 * bind it to the `post-login` trigger once, keeping whatever else is bound there.
 *
 * CLI: `tsx actions/deploy.ts`, configured by the environment (see `actions/README.md`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { ManagementClient } from 'auth0';
import { z } from 'zod';
import { createManagementClient } from '../services/auth0';
import { buildAction } from './build';

/** The trigger the Action is written for, at the version whose `event`/`api` it uses. */
export const POST_LOGIN_TRIGGER = { id: 'post-login', version: 'v3' } as const;
/** Name the Action is found by on later deploys. */
export const DEFAULT_ACTION_NAME = 'inviteflow-redeem-invite';
/** Auth0's current Actions runtime. */
export const DEFAULT_RUNTIME = 'node22';

/** Inputs of `deployAction`. */
export interface DeployActionOptions {
  management: ManagementClient;
  name: string;
  /** The bundled CommonJS code (see `actions/build.ts`). */
  code: string;
  /** Every secret the Action needs: Auth0 replaces the whole set on each update. */
  secrets: Record<string, string>;
  runtime?: string;
  /** How long to wait for Auth0 to build the draft; default 60 s. */
  buildTimeoutMs?: number;
  /** Pause between build-status polls; default 1 s (the free tier allows 2 Management calls per second). */
  pollIntervalMs?: number;
}

/** What `deployAction` did. */
export interface DeployActionResult {
  actionId: string;
  created: boolean;
  versionId: string;
  versionNumber: number;
  /** `added` when this run bound the Action to post-login, `kept` when it already was. */
  binding: 'added' | 'kept';
}


async function findActionByName(management: ManagementClient, name: string): Promise<string | undefined> {
  const page = await management.actions.list({ actionName: name });
  for await (const action of page) if (action.name === name && action.id) return action.id;
  return undefined;
}

// Auth0 builds a draft asynchronously after create/update; deploying earlier answers 400
// "A draft must be in the 'built' state before it can be deployed."
async function waitUntilBuilt(
  management: ManagementClient,
  actionId: string,
  timeoutMs: number,
  pollIntervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const action = await management.actions.get(actionId);
    if (action.status === 'built') return;
    if (action.status === 'failed') throw new Error(`Auth0 failed to build Action ${actionId}`);
    if (Date.now() >= deadline)
      throw new Error(`Action ${actionId} still "${action.status ?? 'unknown'}" after ${timeoutMs} ms`);
    await sleep(pollIntervalMs);
  }
}

async function bindToPostLogin(
  management: ManagementClient,
  actionId: string,
  displayName: string,
): Promise<'added' | 'kept'> {
  const page = await management.actions.triggers.bindings.list(POST_LOGIN_TRIGGER.id);
  const current: { id: string; actionId: string | undefined }[] = [];
  for await (const binding of page)
    if (binding.id) current.push({ id: binding.id, actionId: binding.action?.id });
  if (current.some((b) => b.actionId === actionId)) return 'kept';
  // The PATCH replaces the trigger's whole list, so the other bindings are sent back by id.
  await management.actions.triggers.bindings.updateMany(POST_LOGIN_TRIGGER.id, {
    bindings: [
      ...current.map((b) => ({ ref: { type: 'binding_id' as const, value: b.id } })),
      { ref: { type: 'action_id' as const, value: actionId }, display_name: displayName },
    ],
  });
  return 'added';
}

/** Creates or updates the Action by name, deploys it and makes sure it is bound to post-login once. */
export async function deployAction(opts: DeployActionOptions): Promise<DeployActionResult> {
  const { management, name, code } = opts;
  const runtime = opts.runtime ?? DEFAULT_RUNTIME;
  const secrets = Object.entries(opts.secrets).map(([secretName, value]) => ({ name: secretName, value }));

  let actionId = await findActionByName(management, name);
  const created = actionId === undefined;
  if (actionId === undefined) {
    const action = await management.actions.create({
      name,
      supported_triggers: [POST_LOGIN_TRIGGER],
      code,
      runtime,
      secrets,
    });
    if (!action.id) throw new Error('Auth0 created the Action without an id');
    actionId = action.id;
  } else {
    await management.actions.update(actionId, {
      code,
      runtime,
      secrets,
      supported_triggers: [POST_LOGIN_TRIGGER],
    });
  }

  await waitUntilBuilt(management, actionId, opts.buildTimeoutMs ?? 60_000, opts.pollIntervalMs ?? 1000);
  const version = await management.actions.deploy(actionId);
  const binding = await bindToPostLogin(management, actionId, name);
  return {
    actionId,
    created,
    versionId: version.id ?? '',
    versionNumber: version.number ?? 0,
    binding,
  };
}

const url = z.url({ protocol: /^https?$/ });

const deployEnv = z.object({
  AUTH0_DOMAIN: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name like tenant.eu.auth0.com'),
  AUTH0_CLIENT_ID: z.string().min(1),
  AUTH0_CLIENT_SECRET: z.string().min(1),
  /** Only for local emulators: where requests to https://AUTH0_DOMAIN really go. */
  AUTH0_MANAGEMENT_ENDPOINT: url.optional(),
  INVITEFLOW_API_URL: url,
  INVITEFLOW_ACTION_SECRET: z.string().min(32, 'must be at least 32 characters'),
  ON_REFUSAL: z.enum(['continue', 'deny']).default('continue'),
  CLAIM_NAMESPACE: url.regex(/[/#]$/, 'must end with "/"').default('https://inviteflow.dev/'),
  INVITE_PARAM: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('invite'),
  ACTION_NAME: z.string().min(1).default(DEFAULT_ACTION_NAME),
  /** Claim by verified email on logins without a link (off by default; see docs/redemption.md's security note). */
  CLAIM_BY_EMAIL: z.enum(['true', 'false']).default('false'),
});

/** Configuration of the deploy CLI. */
export type DeployEnv = z.infer<typeof deployEnv>;

/** Reads the deploy CLI's environment; throws listing every bad variable (never their values). */
export function loadDeployEnv(env: Record<string, string | undefined> = process.env): DeployEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = deployEnv.safeParse(cleaned);
  if (!parsed.success)
    throw new Error(
      `invalid configuration:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`,
    );
  return parsed.data;
}

/** Builds the Action and deploys it with the configuration from `env`. */
export async function deployFromEnv(env: DeployEnv): Promise<DeployActionResult> {
  const { code } = await buildAction();
  const management = createManagementClient({
    domain: env.AUTH0_DOMAIN,
    clientId: env.AUTH0_CLIENT_ID,
    clientSecret: env.AUTH0_CLIENT_SECRET,
    ...(env.AUTH0_MANAGEMENT_ENDPOINT ? { endpoint: env.AUTH0_MANAGEMENT_ENDPOINT } : {}),
  });
  return deployAction({
    management,
    name: env.ACTION_NAME,
    code,
    secrets: {
      INVITEFLOW_API_URL: env.INVITEFLOW_API_URL,
      INVITEFLOW_ACTION_SECRET: env.INVITEFLOW_ACTION_SECRET,
      ON_REFUSAL: env.ON_REFUSAL,
      CLAIM_NAMESPACE: env.CLAIM_NAMESPACE,
      INVITE_PARAM: env.INVITE_PARAM,
      CLAIM_BY_EMAIL: env.CLAIM_BY_EMAIL,
    },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Promise.resolve()
    .then(() => deployFromEnv(loadDeployEnv()))
    .then((result) => {
      console.log(
        `${result.created ? 'created' : 'updated'} Action ${result.actionId}, deployed version ${result.versionNumber}, post-login binding ${result.binding}`,
      );
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
