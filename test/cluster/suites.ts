/**
 * The second half of `npm run test:cluster`: the integration test and the browser happy path,
 * unchanged, on the production shape of Temporal instead of the dev server. Starts the Temporal
 * server at the compose file's version on PostgreSQL with SQL visibility (`scripts/cluster.ts`),
 * registers the search attributes with `npm run setup:temporal`'s script, then runs those tests
 * through vitest with `TEST_TEMPORAL_ADDRESS` naming the cluster (test/support/temporal.ts turns
 * that into the Temporal env of the integration test and of the browser stack).
 *
 * Each test is named here; the run fails unless every one of them ran and passed, so a renamed
 * test cannot silently drop out of the cluster run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { startTemporalCluster } from '../../scripts/cluster';
import type { TemporalCluster } from '../../scripts/cluster';
import { tsProcess } from '../../scripts/ts-process';

const ROOT = join(import.meta.dirname, '..', '..');

/** What runs on the cluster: a file and the full names (`describe > test`) of the tests to run in it. */
export const CLUSTER_SUITES: { file: string; tests: string[] }[] = [
  {
    file: 'test/integration/invite-lifecycle.test.ts',
    tests: ['an invite on a real Temporal server > goes from the email to redemption, Auth0 roles and data, the HubSpot contact, completed'],
  },
  {
    file: 'test/e2e/invite-flow.test.ts',
    tests: ['invite flow in a browser > funnel → email → link → sign up → roles and data in the first token → Auth0, HubSpot, completed'],
  },
];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The vitest name filter that selects exactly the named tests (vitest matches names joined by spaces). */
export function namePattern(suites = CLUSTER_SUITES): RegExp {
  const names = suites.flatMap((s) => s.tests).map((name) => escape(name.split(' > ').join(' ')));
  return new RegExp(`(?:^| )(?:${names.join('|')})$`);
}

/** The part of vitest's JSON report (`--reporter=json`) read here. */
export interface JsonReport {
  testResults: { name: string; assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[];
}

/** The named tests that did not pass (missing, skipped or failed), each with what happened to it. */
export function notPassed(report: JsonReport, suites = CLUSTER_SUITES): string[] {
  const states = new Map<string, string>();
  for (const file of report.testResults) {
    for (const test of file.assertionResults) states.set(`${file.name}\n${[...test.ancestorTitles, test.title].join(' > ')}`, test.status);
  }
  const out: string[] = [];
  for (const suite of suites) {
    for (const name of suite.tests) {
      const state = states.get(`${join(ROOT, suite.file)}\n${name}`);
      if (state !== 'passed') out.push(`${suite.file}: "${name}" ${state ?? 'not found (renamed? update test/cluster/suites.ts)'}`);
    }
  }
  return out;
}

/** Counts the completed invites on the cluster, waiting up to 10 s for visibility to reach `expected`. */
async function completedInvites(cluster: TemporalCluster, expected: number): Promise<number> {
  const connection = await Connection.connect({ address: cluster.address });
  try {
    const client = new Client({ connection, namespace: cluster.namespace });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { count } = await client.workflow.count(`WorkflowType = 'inviteWorkflow' AND InviteStatus = 'completed'`);
      if (count === expected || Date.now() > deadline) return count;
      await sleep(250);
    }
  } finally {
    await connection.close();
  }
}

/** Starts a cluster, runs the suites on it and returns the tests that did not pass (empty when green). */
export async function runSuitesOnCluster(log: (line: string) => void): Promise<{ failures: string[]; clusterSeconds: number; testSeconds: number; version: string }> {
  const began = Date.now();
  let cluster: TemporalCluster | undefined;
  try {
    cluster = await startTemporalCluster({ log });
    const [command, args] = tsProcess(join(ROOT, 'scripts', 'setup', 'temporal.ts'));
    const out = execFileSync(command, args, { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: cluster.address, TEMPORAL_NAMESPACE: cluster.namespace }, encoding: 'utf8' });
    log(`search attributes registered by npm run setup:temporal:\n  ${out.trim().split('\n').join('\n  ')}`);
    const clusterSeconds = (Date.now() - began) / 1000;

    const reportDir = mkdtempSync(join(tmpdir(), 'inviteflow-cluster-suites-'));
    try {
      const report = join(reportDir, 'report.json');
      const testsBegan = Date.now();
      // The project's vitest config (setup file, forks, timeouts), only these files and tests. Only
      // the JSON report: vitest's own summary would count the tests the filter leaves out as
      // skipped; the line printed below says what ran.
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...CLUSTER_SUITES.map((s) => s.file), '--testNamePattern', namePattern().source, '--reporter=json', `--outputFile.json=${report}`],
          { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TEST_TEMPORAL_ADDRESS: cluster!.address, TEST_TEMPORAL_NAMESPACE: cluster!.namespace } },
        );
        child.once('error', reject);
        child.once('exit', (exitCode) => resolve(exitCode));
      });
      const testSeconds = (Date.now() - testsBegan) / 1000;
      let failures: string[];
      try {
        failures = notPassed(JSON.parse(readFileSync(report, 'utf8')) as JsonReport);
      } catch (err) {
        failures = [`no vitest report (${String(err)})`];
      }
      if (code !== 0) failures.push(`vitest exited with ${code}`);
      // Each test completes one invite: the cluster's SQL visibility must list exactly those, or
      // the tests ran somewhere else.
      const expected = CLUSTER_SUITES.reduce((n, suite) => n + suite.tests.length, 0);
      const found = await completedInvites(cluster, expected);
      if (found !== expected) failures.push(`the cluster's visibility lists ${found} completed invites, expected ${expected} (one per test)`);
      return { failures, clusterSeconds, testSeconds, version: cluster.version };
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
  } finally {
    await cluster?.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const began = Date.now();
  const log = (line: string) => console.log(`[${Math.round((Date.now() - began) / 1000)} s] ${line}`);
  runSuitesOnCluster(log).then(
    ({ failures, clusterSeconds, testSeconds, version }) => {
      const count = CLUSTER_SUITES.reduce((n, s) => n + s.tests.length, 0);
      console.log(
        `cluster suites (Temporal ${version} on PostgreSQL, SQL visibility): ${count - failures.length} of ${count} passed ` +
          `(integration, browser happy path); cluster up in ${clusterSeconds.toFixed(1)} s, tests ${testSeconds.toFixed(1)} s, total ${((Date.now() - began) / 1000).toFixed(1)} s`,
      );
      for (const line of failures) console.error(`FAILED: ${line}`);
      process.exit(failures.length ? 1 : 0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
