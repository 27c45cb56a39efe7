/**
 * Real Temporal servers for tests, started from the project's provisioned binaries through
 * @temporalio/testing's existing-path executables. Nothing downloads: a missing binary fails the
 * suite with a message saying to run `npm run provision`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { requireBinary } from '../../scripts/temporal-bin.mjs';
import { SEARCH_ATTRIBUTE_DEFINITIONS, searchAttributes, TASK_QUEUE } from '../../workflows/messages';
import { createRequire } from 'node:module';
import type * as Proto from '@temporalio/proto';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { EncryptionCodec, FAILURE_CONVERTER_PATH } from '../../client/codec';
import { TEST_PAYLOAD_KEYS, testDataConverter } from './payload-keys';
import { HISTORIES_DIR } from './histories';
import { refuseInUnitLayer } from './layer';

// CommonJS named exports are invisible to Node's ESM loader; the fault run imports this file under tsx.
const { temporal } = createRequire(import.meta.url)('@temporalio/proto') as typeof Proto;

/**
 * The time-skipping test server, for workflow tests with long timers, with our search attributes;
 * its `client` encrypts like production (`testDataConverter`).
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  refuseInUnitLayer('a time-skipping Temporal server');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireBinary('test-server') } },
    client: { dataConverter: testDataConverter },
  });
  const { IndexedValueType } = temporal.api.enums.v1;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      Object.entries(SEARCH_ATTRIBUTE_DEFINITIONS).map(([name, type]) => [
        name,
        type === 'Keyword' ? IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD : IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
      ]),
    ),
  });
  return env;
}

/**
 * The Temporal CLI dev server (SQLite in memory) with our search attributes registered; its
 * `client` encrypts like production (`testDataConverter`).
 */
export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  refuseInUnitLayer('a Temporal dev server');
  return TestWorkflowEnvironment.createLocal({
    client: { dataConverter: testDataConverter },
    server: {
      executable: { type: 'existing-path', path: requireBinary('cli') },
      searchAttributes: Object.values(searchAttributes),
      log: { format: 'pretty', level: 'warn' },
    },
  });
}

/**
 * Where the tests that need "a real Temporal server" (integration, browser end to end) find it:
 * by default a dev server of their own; with `TEST_TEMPORAL_ADDRESS` (and optionally
 * `TEST_TEMPORAL_NAMESPACE`, default `default`) an external server, such as the PostgreSQL
 * cluster `npm run test:cluster` starts, whose search attributes `npm run setup:temporal` has
 * registered. Read at each call, so a runner can set it before starting the tests.
 */
export function externalTemporal(): { address: string; namespace: string } | undefined {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address) return undefined;
  return { address, namespace: process.env.TEST_TEMPORAL_NAMESPACE || 'default' };
}

/**
 * A real Temporal server for a test file: the external one when `TEST_TEMPORAL_ADDRESS` is set
 * (`teardown()` then only closes the connections), else a dev server of its own. An external
 * namespace without our search attributes fails here, saying which are missing.
 */
export async function realServerEnv(): Promise<TestWorkflowEnvironment> {
  refuseInUnitLayer('a Temporal server');
  const external = externalTemporal();
  if (!external) return devServerEnv();
  const env = await TestWorkflowEnvironment.createFromExistingServer({ ...external, client: { dataConverter: testDataConverter } });
  try {
    const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: external.namespace });
    const missing = Object.keys(SEARCH_ATTRIBUTE_DEFINITIONS).filter((name) => !(name in (customAttributes ?? {})));
    if (missing.length)
      throw new Error(`namespace "${external.namespace}" at ${external.address} lacks the search attributes ${missing.join(', ')}: run \`npm run setup:temporal\` against it`);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

/**
 * The task queue a test file's worker polls: `invites` on a server of its own; on a shared
 * external server one per file, so that files running at once never take each other's tasks
 * (their workers hold different link keys, SMTP servers and emulators).
 */
export function testTaskQueue(): string {
  return externalTemporal() ? `${TASK_QUEUE}-${randomBytes(4).toString('hex')}` : TASK_QUEUE;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow bundle, built once per test file and shared by its workers; with the failure
 * converter of payload encryption, as the production worker bundles it.
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  return bundle;
}

/**
 * With RECORD_HISTORIES=1, writes the finished run's history for the replay tests. A recorded
 * history is kept as it is afterwards: it pins how earlier code behaved.
 */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const file = join(HISTORIES_DIR, `${name}.json`);
  // A recorded history is what old runs look like: it is never recorded again.
  if (existsSync(file)) return;
  const history = await handle.fetchHistory();
  await decryptPayloads(history);
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(file, historyToJSON(history));
}

/**
 * Decrypts, in place, every payload of a history the test workers encrypted: histories are kept
 * in clear, since this process's key dies with it (a worker with encryption on replays them too,
 * its codec passing clear payloads through).
 */
async function decryptPayloads(node: unknown): Promise<void> {
  if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
  const payloads: Payload[] = [];
  const places: { holder: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (value: unknown, holder: Record<string, unknown> | unknown[], key: string | number) => {
    if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return;
    const record = value as Record<string, unknown>;
    if (record.metadata && typeof record.metadata === 'object' && (record.metadata as Record<string, unknown>).encoding instanceof Uint8Array) {
      payloads.push(record);
      places.push({ holder, key });
      return;
    }
    for (const [k, v] of Array.isArray(value) ? value.entries() : Object.entries(record)) walk(v, value as Record<string, unknown>, k);
  };
  walk(node, [node], 0);
  const decoded = await new EncryptionCodec(TEST_PAYLOAD_KEYS).decode(payloads);
  places.forEach(({ holder, key }, i) => ((holder as Record<string | number, unknown>)[key] = decoded[i]));
}
