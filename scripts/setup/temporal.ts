/**
 * Registers inviteflow's search attributes (`SEARCH_ATTRIBUTE_DEFINITIONS`) on a Temporal
 * namespace through the operator service. Idempotent: attributes that exist with the right type
 * are left alone; one that exists with another type is an error, since the UI filters and the
 * list API would silently stop matching.
 *
 * Temporal Cloud does not take this call: search attributes are added through the Cloud ops API
 * (`tcld`, the Cloud UI or Terraform). When the namespace refuses and the connection looks like
 * Cloud (an API key, a client certificate, a `*.tmprl.cloud` address), the script prints the
 * `tcld` command instead.
 *
 * CLI: `tsx scripts/setup/temporal.ts`, configured like the worker: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, and TEMPORAL_API_KEY or TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY.
 */
import { pathToFileURL } from 'node:url';
import { isGrpcServiceError } from '@temporalio/client';
import type { Connection } from '@temporalio/client';
import { createRequire } from 'node:module';
import type * as Proto from '@temporalio/proto';
import { z } from 'zod';
import type { TemporalConfig } from '../../lib/config';
import { connectClient } from '../../client/connection';
import { SEARCH_ATTRIBUTE_DEFINITIONS } from '../../workflows/messages';

// CommonJS named exports are invisible to Node's ESM loader, which runs this file as a command.
const { temporal } = createRequire(import.meta.url)('@temporalio/proto') as typeof Proto;
const { IndexedValueType } = temporal.api.enums.v1;

// gRPC status codes (google.rpc.Code) the operator service answers with.
const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;
const UNAUTHENTICATED = 16;

const TYPES: Record<'Keyword' | 'Datetime', Proto.temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** The part of a Temporal `Connection` this script uses. */
export type OperatorConnection = Pick<Connection, 'operatorService'>;

/** Which attributes this run added and which were already there. */
export interface SearchAttributeRegistration {
  namespace: string;
  created: string[];
  present: string[];
}

/** The `tcld` command that registers the attributes on a Temporal Cloud namespace. */
export function tcldCommand(namespace: string, definitions = SEARCH_ATTRIBUTE_DEFINITIONS): string {
  const flags = Object.entries(definitions).map(([name, type]) => `--search-attribute "${name}=${type}"`);
  return `tcld namespace search-attributes add --namespace ${namespace} ${flags.join(' ')}`;
}

/** The namespace refused the operator call on what looks like Temporal Cloud. */
export class TemporalCloudSearchAttributesError extends Error {
  readonly code = 'ERR_TEMPORAL_CLOUD_SEARCH_ATTRIBUTES';
  constructor(
    readonly namespace: string,
    readonly grpcCode: number,
  ) {
    super(
      [
        `Temporal refused to add search attributes to namespace "${namespace}" (gRPC status ${grpcCode}).`,
        'Temporal Cloud registers search attributes through its Cloud ops API, not the operator',
        'service: run (after `tcld login`), or add them in the Cloud UI (Namespace › Search Attributes)',
        'or with Terraform (temporalcloud_namespace_search_attribute):',
        `  ${tcldCommand(namespace)}`,
      ].join('\n'),
    );
    this.name = 'TemporalCloudSearchAttributesError';
  }
}

/** Whether the connection settings point at Temporal Cloud rather than a self-hosted cluster. */
export function looksLikeTemporalCloud(
  cfg: Pick<TemporalConfig, 'TEMPORAL_ADDRESS' | 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS_CERT'>,
): boolean {
  return (
    Boolean(cfg.TEMPORAL_API_KEY) ||
    Boolean(cfg.TEMPORAL_TLS_CERT) ||
    /\.tmprl\.cloud(:\d+)?$/.test(cfg.TEMPORAL_ADDRESS)
  );
}

async function customAttributes(connection: OperatorConnection, namespace: string) {
  const { customAttributes: found } = await connection.operatorService.listSearchAttributes({ namespace });
  return new Map(Object.entries(found ?? {}));
}

/**
 * Adds the missing attributes to `namespace`. An "already exists" answer (servers differ:
 * ALREADY_EXISTS, INVALID_ARGUMENT, or a silent success) means someone registered some of them
 * concurrently; the server then added none of the batch, so the run reads again and retries.
 * `cloud` turns a refusal into a `TemporalCloudSearchAttributesError`.
 */
export async function registerSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
  opts: { cloud?: boolean; definitions?: Record<string, 'Keyword' | 'Datetime'> } = {},
): Promise<SearchAttributeRegistration> {
  const definitions = opts.definitions ?? SEARCH_ATTRIBUTE_DEFINITIONS;
  const refused = (error: unknown): never => {
    if (
      opts.cloud &&
      isGrpcServiceError(error) &&
      [PERMISSION_DENIED, UNIMPLEMENTED, UNAUTHENTICATED].includes(error.code)
    )
      throw new TemporalCloudSearchAttributesError(namespace, error.code);
    throw error;
  };
  const alreadyExists = (error: unknown): boolean =>
    isGrpcServiceError(error) &&
    (Number(error.code) === ALREADY_EXISTS ||
      (Number(error.code) === INVALID_ARGUMENT && /already exists/i.test(error.details)));

  const created: string[] = [];
  for (let attempt = 1; ; attempt++) {
    // Some servers accept re-adding an attribute with another type without a word, so the types
    // are compared here, from the listing, before anything is added.
    const existing = await customAttributes(connection, namespace).catch(refused);
    const missing: Record<string, Proto.temporal.api.enums.v1.IndexedValueType> = {};
    for (const [name, type] of Object.entries(definitions)) {
      const current = existing.get(name);
      if (current === undefined) missing[name] = TYPES[type];
      else if (current !== TYPES[type])
        throw new Error(
          `search attribute ${name} exists on namespace "${namespace}" with type ${IndexedValueType[current]}, expected ${type}`,
        );
    }
    if (Object.keys(missing).length === 0) {
      return {
        namespace,
        created,
        present: Object.keys(definitions).filter((name) => !created.includes(name)),
      };
    }
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
      created.push(...Object.keys(missing));
    } catch (error) {
      if (!alreadyExists(error) || attempt >= 3) refused(error);
    }
  }
}

const temporalEnv = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('invites'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
}) satisfies z.ZodType<TemporalConfig>;

/** Runs the CLI and returns what it prints. */
export async function runTemporalSetup(env: Record<string, string | undefined>): Promise<string> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = temporalEnv.safeParse(cleaned);
  if (!parsed.success)
    throw new Error(
      `invalid configuration:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`,
    );
  const cfg: TemporalConfig = parsed.data;
  const client = await connectClient(cfg);
  try {
    const result = await registerSearchAttributes(client.connection, cfg.TEMPORAL_NAMESPACE, {
      cloud: looksLikeTemporalCloud(cfg),
    });
    return [
      `namespace ${result.namespace} at ${cfg.TEMPORAL_ADDRESS}`,
      ...result.created.map(
        (name) => `created  search attribute ${name} (${SEARCH_ATTRIBUTE_DEFINITIONS[name]})`,
      ),
      ...result.present.map(
        (name) => `present  search attribute ${name} (${SEARCH_ATTRIBUTE_DEFINITIONS[name]})`,
      ),
      '',
    ].join('\n');
  } finally {
    await client.connection.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runTemporalSetup(process.env)
    .then((out) => process.stdout.write(out))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
