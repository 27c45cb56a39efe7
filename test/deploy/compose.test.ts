/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked by parsing: every file
 * it mounts and every build context exists, the Dockerfile copies only what is there, and every
 * variable handed to our processes is one they read and one `.env.example` documents.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const documented = new Set([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
// Variables a process reads: the keys of the zod schemas in lib/config.ts.
const configKeys = new Set([...read('lib/config.ts').matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]));

describe('docker-compose.yml', () => {
  it('pins every image to a version', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.image) expect(svc.image, name).toMatch(/:[\w.-]+$/);
      if (svc.image) expect(svc.image, name).not.toMatch(/:latest$/);
    }
  });

  it('mounts only files that exist, and builds from contexts that have a Dockerfile', () => {
    for (const svc of Object.values(compose.services)) {
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(join(ROOT, source)), source).toBe(true);
      }
      if (svc.build) {
        const context = typeof svc.build === 'string' ? svc.build : svc.build.context;
        const dockerfile = typeof svc.build === 'string' ? 'Dockerfile' : (svc.build.dockerfile ?? 'Dockerfile');
        expect(existsSync(join(ROOT, context, dockerfile))).toBe(true);
      }
    }
  });

  it('runs entry points that exist', () => {
    const built = Object.values(compose.services).filter((s) => s.build);
    expect(built.length, 'services built from this repository').toBeGreaterThan(0);
    for (const svc of built) {
      const args = Array.isArray(svc.command) ? svc.command : [];
      const entry = args.find((a) => a.endsWith('.ts'));
      expect(entry && existsSync(join(ROOT, entry)), String(entry)).toBe(true);
    }
  });

  it('depends only on services it defines', () => {
    const deps = Object.values(compose.services).flatMap((svc) => (Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {})));
    expect(deps.length, 'dependencies between services').toBeGreaterThan(0);
    for (const dep of deps) expect(Object.keys(compose.services)).toContain(dep);
  });

  it('hands our processes only variables they read, each documented in .env.example', () => {
    for (const svc of Object.values(compose.services).filter((s) => s.build)) {
      for (const name of Object.keys(svc.environment ?? {})) {
        expect(configKeys.has(name), `${name} is not read by lib/config.ts`).toBe(true);
        expect(documented.has(name), `${name} is not in .env.example`).toBe(true);
      }
    }
  });
});

describe('Dockerfile', () => {
  it('copies only paths that exist', () => {
    const sources = [...read('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
  });
});
