/**
 * What every command shares during one run: the configuration (read once, exit 78 when bad), the
 * Temporal client (connected on first use, exit 4 when unreachable), deadlines on every call, and
 * turning an `<id|email>` argument into an invite id.
 */
import { emailSearchKey } from '../client/codec';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ConfigError, loadCliConfig } from '../lib/config';
import type { CliConfig } from '../lib/config';
import type { RoleCatalogue } from '../services/auth0-roles';
import type { CrmPropertyCatalogue } from '../services/hubspot-properties';
import { deriveInviteId } from '../client/invite-id';
import { searchInvites, visibilityQuery } from '../client/invite-search';
import { DEFAULT_SCOPE } from '../client/invites';
import { isUnavailable } from '../client/grpc-errors';
import { isValidEmail, normalizeEmail } from '../workflows/input';
import { CliError, EXIT, usageError } from './io';
import { LOCAL_SECRETS, withLocalStack } from './local-stack';
import type { CliIO } from './io';

/** Deadlines of Temporal calls, in milliseconds. */
export const DEADLINES = {
  /** Queries, describes, lists, starts, history. */
  readMs: 10_000,
  /** The status query in `show`, which needs a worker: without one, the history is still worth showing. */
  queryMs: 5_000,
  /** Updates whose handler answers at once (revoke) and the acceptance of the others. */
  updateMs: 10_000,
  /** How long to wait for an update that sends an email (resend, extend) before reporting it as under way. */
  emailMs: 30_000,
} as const;

/** The shared state of one run; `close()` when done. */
export interface Session {
  io: CliIO;
  /** `--json`: machine-readable output. */
  json: boolean;
  config(): CliConfig;
  /** The invite id key, or exit 78 naming what needs it. */
  idKey(purpose: string): string;
  /** The Auth0 tenant's roles (AUTH0_* as the API's), or exit 78 naming what is missing. */
  roles(): Promise<RoleCatalogue>;
  /** HubSpot's contact property names (HUBSPOT_ACCESS_TOKEN as the API's), or exit 78 naming what is missing. */
  crmProperties(): Promise<CrmPropertyCatalogue>;
  /** The connected client. */
  client(): Promise<Client>;
  /** Runs a Temporal call with a deadline; no answer in time becomes exit 4. */
  call<T>(ms: number, fn: (client: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A session over `io`; nothing is read or connected until a command needs it. */
export function createSession(io: CliIO, json: boolean): Session {
  let config: CliConfig | undefined;
  let connecting: Promise<Client> | undefined;
  let roles: Promise<RoleCatalogue> | undefined;
  let crmProperties: Promise<CrmPropertyCatalogue> | undefined;

  const session: Session = {
    io,
    json,
    config() {
      if (!config) {
        try {
          config = loadCliConfig(withLocalStack(io.env ?? process.env, io.localStack));
        } catch (err) {
          if (err instanceof ConfigError) {
            const keys = err.problems.some((p) => /^(PAYLOAD_KEYS|INVITE_ID_KEY)\b/.test(p));
            // The problems follow as details (one per line, or a JSON array): not twice.
            throw new CliError(EXIT.config, 'config_invalid', 'invalid configuration:', [
              ...err.problems,
              ...(keys ? [LOCAL_KEYS_HINT] : []),
            ]);
          }
          throw err;
        }
      }
      return config;
    },
    idKey(purpose) {
      const key = session.config().INVITE_ID_KEY;
      if (!key)
        throw new CliError(
          EXIT.config,
          'config_invalid',
          `INVITE_ID_KEY is required ${purpose} (the same key as the API's). ${LOCAL_KEYS_HINT}`,
        );
      return key;
    },
    roles() {
      const cfg = session.config();
      const { domain, clientId, clientSecret } = auth0Client(cfg, "to check role names in Auth0 (the same application as the API's)");
      roles ??= (async () => {
        // Imported here, like the Temporal SDK, so that commands without roles never load the auth0 SDK.
        const [{ createManagementClient }, { createRoleCatalogue }] = await Promise.all([import('../services/auth0'), import('../services/auth0-roles')]);
        return createRoleCatalogue({
          management: createManagementClient({ domain, clientId, clientSecret, endpoint: cfg.AUTH0_MANAGEMENT_ENDPOINT, timeoutSeconds: 10 }),
          // One run reads the roles once: its copy outlives the run.
          maxAgeMs: 24 * 60 * 60_000,
        });
      })();
      return roles;
    },
    crmProperties() {
      const cfg = session.config();
      const accessToken = cfg.HUBSPOT_ACCESS_TOKEN;
      if (!accessToken) {
        throw new CliError(
          EXIT.config,
          'config_invalid',
          'HUBSPOT_ACCESS_TOKEN is required to check CRM property names in HubSpot (the same private app as the API\'s)',
        );
      }
      crmProperties ??= (async () => {
        // Imported here, like the Temporal SDK, so that commands without CRM properties never load the HubSpot SDK.
        const [{ createHubSpotClient }, { createCrmPropertyCatalogue }] = await Promise.all([import('../services/hubspot'), import('../services/hubspot-properties')]);
        return createCrmPropertyCatalogue({
          properties: createHubSpotClient({ accessToken, basePath: cfg.HUBSPOT_BASE_PATH }).crm.properties.coreApi,
          // One run reads the properties once: its copy outlives the run.
          maxAgeMs: 24 * 60 * 60_000,
          timeoutMs: 10_000,
        });
      })();
      return crmProperties;
    },
    client() {
      const cfg = session.config();
      connecting ??= (async () => {
        // Imported here so that `--help` and usage errors never load the Temporal SDK.
        const { connectClient } = await import('../client/connection');
        try {
          return await connectClient(cfg);
        } catch (err) {
          // A TLS file that cannot be read, or a certificate without its key, is the environment's
          // fault (78), not the network's: both fail before any connection is attempted.
          const errno = (err as NodeJS.ErrnoException).code;
          if (
            (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) ||
            /\bTEMPORAL_TLS_/.test(messageOf(err))
          ) {
            throw new CliError(
              EXIT.config,
              'config_invalid',
              `Cannot set up the Temporal connection: ${messageOf(err)}`,
            );
          }
          throw new CliError(
            EXIT.unavailable,
            'temporal_unavailable',
            `Cannot reach Temporal at ${cfg.TEMPORAL_ADDRESS} (namespace ${cfg.TEMPORAL_NAMESPACE}): ${messageOf(err)}`,
          );
        }
      })();
      return connecting;
    },
    async call(ms, fn) {
      const client = await session.client();
      const { signal } = io;
      const withDeadline = () => client.connection.withDeadline(Date.now() + ms, () => fn(client));
      try {
        return await (signal ? client.connection.withAbortSignal(signal, withDeadline) : withDeadline());
      } catch (err) {
        if (signal?.aborted) throw interrupted();
        if (isUnavailable(err)) {
          const { TEMPORAL_TASK_QUEUE: queue } = session.config();
          throw new CliError(
            EXIT.unavailable,
            'temporal_unavailable',
            `Temporal did not answer within ${ms / 1000} s (unreachable, or no worker polling task queue "${queue}")`,
          );
        }
        throw err;
      }
    },
    async close() {
      const pending = connecting;
      connecting = undefined;
      const client = await pending?.catch(() => undefined);
      await client?.connection.close();
    },
  };
  return session;
}

/** Where the keys of the local stack are, for the messages of a missing key. */
const LOCAL_KEYS_HINT =
  `Against the local stack, \`npm run dev\` keeps the keys in ${LOCAL_SECRETS} of its checkout, ` +
  'which the CLI of that checkout reads by itself when TEMPORAL_ADDRESS is unset or the local one; ' +
  'elsewhere, export the API\'s keys.';

const INVITE_ID = /^[a-z0-9]{16,64}$/;

/**
 * The invite id an argument names: an id, a workflow id (`invite-<id>`, as the UI shows it), or an
 * email with a scope. By email, the id is derived with INVITE_ID_KEY when it is set (exact, like
 * the API); otherwise the newest invite visibility knows for that email and scope (which may lag).
 */
export async function resolveInviteId(
  session: Session,
  ref: string,
  scope: string = DEFAULT_SCOPE,
): Promise<string> {
  const bare = ref.trim().replace(/^invite-/, '');
  if (INVITE_ID.test(bare)) return bare;
  if (!ref.includes('@')) throw usageError(`"${ref}" is neither an invite id nor an email address`);
  const email = normalizeEmail(ref);
  if (!isValidEmail(email)) throw usageError(`"${ref}" is not a valid email address`);
  const key = session.config().INVITE_ID_KEY;
  if (key) return deriveInviteId(key, email, scope);
  // Encrypted invites are searchable only by the keyed hash of their email: that needs the key.
  if (session.config().PAYLOAD_KEYS) session.idKey('to name an invite by email while payload encryption is on');
  const page = await session.call(DEADLINES.readMs, (client) =>
    searchInvites(client, visibilityQuery({ email, scope }, emailSearchKey(session.config())), 1),
  );
  const newest = page.items[0];
  if (!newest) throw notFound(`No invite for ${email} in scope ${scope}`);
  return newest.id;
}

/** Exit 130: the operator pressed Ctrl-C. */
export function interrupted(): CliError {
  return new CliError(
    EXIT.interrupted,
    'interrupted',
    'Interrupted; a bulk import resumes when run again with the same --report',
  );
}

/** Exit 3 with the stable code of a missing invite. */
export function notFound(message = 'No invite has this id'): CliError {
  return new CliError(EXIT.notFound, 'invite_not_found', message);
}

/** Runs `fn`, turning "no such workflow" into exit 3. */
export async function orNotFound<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound();
    throw err;
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The Auth0 application settings a command needs, or a configuration error naming the missing
 * ones, what they are needed for (`purpose`) and where to find them (`hint`).
 */
export function auth0Client(
  env: { AUTH0_DOMAIN?: string | undefined; AUTH0_CLIENT_ID?: string | undefined; AUTH0_CLIENT_SECRET?: string | undefined },
  purpose: string,
  hint = '',
): { domain: string; clientId: string; clientSecret: string } {
  const { AUTH0_DOMAIN: domain, AUTH0_CLIENT_ID: clientId, AUTH0_CLIENT_SECRET: clientSecret } = env;
  if (domain && clientId && clientSecret) return { domain, clientId, clientSecret };
  const missing = Object.entries({ AUTH0_DOMAIN: domain, AUTH0_CLIENT_ID: clientId, AUTH0_CLIENT_SECRET: clientSecret })
    .filter(([, value]) => !value)
    .map(([name]) => name);
  throw new CliError(EXIT.config, 'config_invalid', `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required ${purpose}${hint ? `. ${hint}` : ''}`);
}
