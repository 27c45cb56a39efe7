/**
 * The worker runs with the same Node flags and environment wherever it is started: `npm run
 * worker`, `npm run dev` (through `workerProcess`), the image and docker-compose. They are chosen
 * by `npm run bench:scale` (bench/README.md) and defined once in `scripts/ts-process.ts`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WORKER_ENV, WORKER_NODE_FLAGS, workerProcess } from '../../scripts/ts-process';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const command = ['node', ...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'];
const env = Object.entries(WORKER_ENV);

describe('the worker process settings', () => {
  it('are set for `npm run worker`', () => {
    const script = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.worker;
    expect(script).toBe([...env.map(([k, v]) => `${k}=${v}`), ...command].join(' '));
  });

  it('are set by the image, and by docker-compose for its worker', () => {
    const dockerfile = read('Dockerfile');
    for (const [k, v] of env) expect(dockerfile).toMatch(new RegExp(`^ENV ${k}=${v}$`, 'm'));
    expect(dockerfile).toContain(`CMD ${JSON.stringify(command).replace(/,/g, ', ')}`);
    const compose = parse(read('docker-compose.yml')) as { services: Record<string, { command?: string[] }> };
    expect(compose.services.worker?.command).toEqual(command);
  });

  it('are set by `npm run dev`', () => {
    const [node, args] = workerProcess();
    expect(node).toBe(process.execPath);
    expect(args.slice(0, WORKER_NODE_FLAGS.length)).toEqual([...WORKER_NODE_FLAGS]);
    expect(args.at(-1)).toBe('worker/main.ts');
    expect(read('scripts/dev.ts')).toMatch(/run\('worker', \.\.\.workerProcess\(\), \{\s*\.\.\.WORKER_ENV,/);
  });
});
