/**
 * The settings of the local stack (`npm run dev`), which the CLI uses when its environment lacks
 * them: the keys in `.data/local-secrets.json` and the addresses in `.data/local-stack.json`, both
 * written by `scripts/dev.ts` into the git-ignored `.data/` of the checkout. Nothing else is read:
 * against any other Temporal the environment must say everything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What `npm run dev` writes to `.data/local-stack.json` for the CLI once the stack is up. */
export interface LocalStackFile {
  /** gRPC address of the local Temporal dev server. */
  temporalAddress: string;
  /** The local API's base URL. */
  apiUrl: string;
  auth0: {
    /** The emulator's base URL (its `/oauth/token`, and the Management API endpoint). */
    url: string;
    /** The tenant domain the SDKs are configured with. */
    domain: string;
    /** The API's audience for access tokens. */
    audience: string;
    /** The machine-to-machine application of the local tenant (the API's and the funnel's). */
    clientId: string;
    clientSecret: string;
  };
  /** The HubSpot emulator, whose contact properties `create` and `bulk` check; absent in older files. */
  hubspot?: {
    /** Its base URL (`HUBSPOT_BASE_PATH`). */
    url: string;
    /** The private-app token it accepts. */
    accessToken: string;
  };
}

/** The part of `.data/local-secrets.json` the CLI needs. */
interface LocalSecretsFile {
  inviteIdKey?: string;
  payloadKeys?: unknown[];
}

/** Where the local stack's files are, as the message of a missing setting says it. */
export const LOCAL_SECRETS = '.data/local-secrets.json';
export const LOCAL_STACK = '.data/local-stack.json';

/** The local stack's files, or undefined for each one that is absent or unreadable. */
export function readLocalStack(dir: string | undefined): { stack?: LocalStackFile; secrets?: LocalSecretsFile } {
  if (!dir) return {};
  return {
    stack: readJson<LocalStackFile>(join(dir, 'local-stack.json')),
    secrets: readJson<LocalSecretsFile>(join(dir, 'local-secrets.json')),
  };
}

/**
 * `env` with what it lacks filled in from the local stack, only when it targets the local stack:
 * no `TEMPORAL_ADDRESS`, or the local stack's own. Set variables always win.
 */
export function withLocalStack(
  env: Record<string, string | undefined>,
  dir: string | undefined,
): Record<string, string | undefined> {
  const { stack, secrets } = readLocalStack(dir);
  if (!stack && !secrets) return env;
  const address = env.TEMPORAL_ADDRESS?.trim();
  if (address && !isLocalAddress(address, stack?.temporalAddress)) return env;
  const local: Record<string, string | undefined> = {
    TEMPORAL_ADDRESS: stack?.temporalAddress,
    INVITE_ID_KEY: secrets?.inviteIdKey,
    PAYLOAD_KEYS:
      secrets?.payloadKeys && env.PAYLOAD_ENCRYPTION !== 'off' ? JSON.stringify(secrets.payloadKeys) : undefined,
    AUTH0_DOMAIN: stack?.auth0.domain,
    AUTH0_CLIENT_ID: stack?.auth0.clientId,
    AUTH0_CLIENT_SECRET: stack?.auth0.clientSecret,
    AUTH0_MANAGEMENT_ENDPOINT: stack?.auth0.url,
    AUTH_AUDIENCE: stack?.auth0.audience,
    HUBSPOT_ACCESS_TOKEN: stack?.hubspot?.accessToken,
    HUBSPOT_BASE_PATH: stack?.hubspot?.url,
  };
  const merged = { ...env };
  for (const [name, value] of Object.entries(local))
    if (value !== undefined && !merged[name]?.trim()) merged[name] = value;
  return merged;
}

/** The local dev server's address, spelled either way (`localhost` or `127.0.0.1`). */
function isLocalAddress(address: string, stackAddress = '127.0.0.1:7233'): boolean {
  const spellings = (a: string) => {
    const port = a.slice(a.lastIndexOf(':') + 1);
    return [`localhost:${port}`, `127.0.0.1:${port}`];
  };
  return spellings(stackAddress).includes(address);
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
