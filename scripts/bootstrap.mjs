// Makes a fresh clone runnable: installs the locked npm dependencies when node_modules is missing
// or older than package-lock.json, then provisions the pinned Temporal binaries into .tools/.
// The browser tests drive Debian's Chromium (no browser downloads): as root on Debian it is
// installed with apt-get when missing; elsewhere set CHROMIUM_PATH to an existing Chromium.
// Idempotent and quick when nothing changed, so `npm run dev` and `npm test` call it every time.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { provision, ROOT } from './temporal-bin.mjs';

// What inviteflow needs: Node 20.19, the first 20.x that loads ES modules through require() without
// a flag. npm's EBADENGINE warnings for commander 15, content-disposition 3 (under
// @fastify/static), cookie 2 (under light-my-request) and @hubspot/api-client 14, which declare
// Node >= 22, are expected: the first three are ES-module-only packages whose only need is that
// require(esm), and @hubspot/api-client 14 uses nothing newer than the global fetch of Node 18.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`bootstrap: inviteflow needs Node.js >= 20.19 (this is ${process.version})`);
  process.exit(1);
}

const lock = join(ROOT, 'package-lock.json');
const stamp = join(ROOT, 'node_modules', '.inviteflow-lock-sha256');
const lockHash = createHash('sha256').update(readFileSync(lock)).digest('hex');

if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  console.log('bootstrap: installing npm dependencies from package-lock.json (npm ci)…');
  if (major < 22)
    console.log(
      'bootstrap: npm may warn EBADENGINE that commander, content-disposition, cookie and @hubspot/api-client\n' +
        `want Node >= 22: expected and harmless; inviteflow needs Node >= 20.19 (this is ${process.version}).`,
    );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(stamp, lockHash);
}
provision();

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  if (userInfo().uid === 0 && existsSync('/usr/bin/apt-get')) {
    console.log('bootstrap: installing Debian chromium for the browser tests (apt-get)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  } else {
    console.warn(`bootstrap: no Chromium at ${chromium}; install Debian's chromium or set CHROMIUM_PATH (the browser tests need it)`);
  }
}
