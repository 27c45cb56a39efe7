/**
 * What every benchmark prints: the machine and versions it ran on, its parameters, a results
 * table and, last, one ratio line. Targets are reported (PASS/MISS), never asserted, so a missed
 * target still exits 0 and leaves the numbers for the reader.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem, freemem, release, type } from 'node:os';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { requireBinary } from '../../scripts/temporal-bin.mjs';

/** Parses `--name value` flags against their defaults; every value comes back as a string (see `int`). */
export function flags<K extends string>(defaults: Record<K, string | number>): Record<K, string> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const name of Object.keys(defaults)) options[name] = { type: 'string' };
  const { values } = parseArgs({ options, allowPositionals: false, strict: true });
  const out = {} as Record<K, string>;
  for (const [name, fallback] of Object.entries(defaults) as [K, string | number][]) {
    out[name] = (values[name] as string | undefined) ?? String(fallback);
  }
  return out;
}

/** A non-negative integer flag, or a clear exit. */
export function int(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer (got ${value})`);
    process.exit(2);
  }
  return n;
}

/** The Temporal CLI's own version line, e.g. `1.9.1 (Server 1.32.0, UI 2.54.1)`. */
export function temporalCliVersion(): string {
  return execFileSync(requireBinary('cli'), ['--version'], { encoding: 'utf8' })
    .trim()
    .replace(/^temporal version /, '');
}

function sdkVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@temporalio/worker/package.json') as { version: string }).version;
}

/**
 * Prints the machine, versions and load average, and starts watching the CPU time of every
 * other process: other engineers run test suites on the same two cores, and a run that
 * overlapped with them must say so (`printLoadAfter`).
 */
export function printHeader(title: string, params: Record<string, unknown>, temporal?: string): void {
  const cpu = cpus();
  const [load1, load5] = loadavg();
  console.log(`# ${title}`);
  console.log(`date         ${new Date().toISOString()}`);
  console.log(
    `machine      ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${gib(totalmem())} GiB RAM (${gib(freemem())} free), ${type()} ${release()}`,
  );
  console.log(`node         ${process.version}`);
  console.log(`temporal     ${temporal ?? `CLI ${temporalCliVersion()} (dev server)`}, TypeScript SDK ${sdkVersion()}`);
  console.log(`load before  ${load1!.toFixed(2)} (1 min), ${load5!.toFixed(2)} (5 min)`);
  console.log(
    `parameters   ${Object.entries(params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
  );
  console.log('');
  watch = snapshot();
}

let watch: CpuSnapshot | undefined;
let splitWatch: CpuSnapshot | undefined;
let cpuSplit = '';

/** Starts the per-process CPU split here, after set-up (bundling would swamp the worker's share). */
export function measuring(): void {
  splitWatch = snapshot();
}

/**
 * Prints how much CPU other processes took during the run. Call it before the stack stops: the
 * Temporal server and the worker host are this process's children and count as the bench.
 */
export function printLoadAfter(
  startedAt: number,
  thisProcess = 'API, load generator, baseline client; services: emulators, mail catcher',
): void {
  const seconds = (performance.now() - startedAt) / 1000;
  const [load1] = loadavg();
  let others = '';
  if (watch) {
    const now = snapshot();
    const tree = descendants(now);
    const busy = (now.busyTicks - watch.busyTicks) / TICKS;
    let mine = 0;
    const foreign: { comm: string; s: number }[] = [];
    const parts = new Map<string, number>();
    for (const [pid, p] of now.procs) {
      const delta = (p.ticks - (watch.procs.get(pid)?.ticks ?? 0)) / TICKS;
      if (tree.has(pid)) {
        mine += delta;
        const since = (p.ticks - ((splitWatch ?? watch).procs.get(pid)?.ticks ?? 0)) / TICKS;
        const part =
          pid === process.pid
            ? 'this process'
            : p.comm === 'temporal'
              ? 'temporal server'
              : p.comm === 'node'
                ? nodeProcessName(pid)
                : p.comm;
        parts.set(part, (parts.get(part) ?? 0) + since);
      } else if (delta > 0.5) foreign.push({ comm: p.comm, s: delta });
    }
    cpuSplit = [...parts]
      .filter(([, s]) => s >= 0.05)
      .map(([part, s]) => `${part} ${s.toFixed(1)} s`)
      .join(', ');
    const otherCpu = Math.max(0, busy - mine);
    foreign.sort((a, b) => b.s - a.s);
    const names = foreign
      .slice(0, 4)
      .map((f) => `${f.comm} ${f.s.toFixed(0)} s`)
      .join(', ');
    others =
      ` · this bench used ${mine.toFixed(0)} CPU-s, other processes ${otherCpu.toFixed(0)} CPU-s` +
      ` (${((otherCpu / (seconds * cpus().length)) * 100).toFixed(0)} % of the machine${names ? `: ${names}` : ''})`;
  }
  console.log(`load after   ${load1!.toFixed(2)} (1 min) · run time ${seconds.toFixed(1)} s${others}`);
  if (cpuSplit)
    console.log(
      `cpu split    ${cpuSplit} since set-up (this process: ${thisProcess})`,
    );
}

const TICKS = 100; // USER_HZ on Linux

interface CpuSnapshot {
  busyTicks: number;
  procs: Map<number, { ppid: number; ticks: number; comm: string }>;
}

// /proc is read directly: `ps` reports lifetime averages, which cannot tell a test suite that
// ran alongside this benchmark from one that ran an hour ago.
/** Which of the stack's Node children a process is, from its command line. */
function nodeProcessName(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('services-host')) return 'services process';
    if (cmdline.includes('worker-host')) return 'worker process';
  } catch {
    // Gone already.
  }
  return 'node';
}

function snapshot(): CpuSnapshot {
  const procs = new Map<number, { ppid: number; ticks: number; comm: string }>();
  let busyTicks = 0;
  try {
    const cpuLine = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    busyTicks = cpuLine.reduce((a, b, i) => (i === 3 || i === 4 ? a : a + (i < 8 ? b : 0)), 0);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const comm = stat.slice(stat.indexOf('(') + 1, close);
        const fields = stat.slice(close + 2).split(' ');
        procs.set(Number(entry), {
          ppid: Number(fields[1]),
          ticks: Number(fields[11]) + Number(fields[12]),
          comm,
        });
      } catch {
        // The process ended between the listing and the read.
      }
    }
  } catch {
    // Not Linux: the load line then shows the load average only.
  }
  return { busyTicks, procs };
}

function descendants(s: CpuSnapshot): Set<number> {
  const tree = new Set([process.pid]);
  for (let changed = true; changed;) {
    changed = false;
    for (const [pid, p] of s.procs) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        changed = true;
      }
    }
  }
  return tree;
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}

/** Prints rows as an aligned Markdown table (it pastes into bench/README.md unchanged). */
export function table(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]!);
  const cells = rows.map((r) => headers.map((h) => fmt(r[h])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(headers));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const c of cells) console.log(line(c));
  console.log('');
}

function fmt(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100
    ? value.toFixed(0)
    : Math.abs(value) >= 10
      ? value.toFixed(1)
      : value.toFixed(2);
}

/** The percentile (nearest rank) of a sample, in its own unit. */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * How far chance alone moves the difference of a percentile between two samples measured in
 * pairs (round i of one beside round i of the other): the 5th and 95th percentiles of that
 * difference over `resamples` bootstrap resamples of the rounds (a seeded generator, so the same
 * samples give the same interval).
 */
export function pairedBootstrap(
  ours: number[],
  theirs: number[],
  p: number,
  resamples = 2000,
): { low: number; high: number } {
  const n = Math.min(ours.length, theirs.length);
  let seed = 0x9e3779b9;
  const random = () => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const diffs: number[] = [];
  const a: number[] = new Array<number>(n);
  const b: number[] = new Array<number>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random() * n);
      a[i] = ours[k]!;
      b[i] = theirs[k]!;
    }
    diffs.push(percentile(a, p) - percentile(b, p));
  }
  return { low: percentile(diffs, 5), high: percentile(diffs, 95) };
}

/** p50/p90/p99/max/mean of a latency sample in ms. */
export function summary(sample: number[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
} {
  return {
    p50: percentile(sample, 50),
    p90: percentile(sample, 90),
    p99: percentile(sample, 99),
    max: Math.max(...sample),
    mean: sample.reduce((a, b) => a + b, 0) / sample.length,
  };
}

/** The last line of every benchmark. */
export function ratioLine(
  name: string,
  ratio: string,
  value: number,
  target: string,
  pass: boolean,
  extra = '',
): void {
  console.log(
    `ratio ${name}: ${ratio} = ${value.toFixed(2)}${extra ? ` (${extra})` : ''} (target ${target}) ${pass ? 'PASS' : 'MISS'}`,
  );
}

/**
 * Runs `total` calls of `fn` with at most `concurrency` in flight; returns each call's latency
 * (ms) and the wall time of the whole batch. A failed call fails the batch: a benchmark that
 * counts errors as fast answers would flatter the product.
 */
export async function pool(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = new Array<number>(total);
  let next = 0;
  const begin = performance.now();
  const lane = async () => {
    for (let i = next++; i < total; i = next++) {
      const t0 = performance.now();
      await fn(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return { latencies, wallMs: performance.now() - begin };
}

/** Resolves once `probe` is true, polling every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 120_000,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** CPU seconds used so far by this process, the Temporal server and the worker process. */
export interface CpuParts {
  self: number;
  server: number;
  worker: number;
  /** The emulators and the mail catcher (`services-host.ts`). */
  services: number;
}

/** Reads `CpuParts` from /proc (zeros elsewhere); subtract two readings to cost a phase. */
export function cpuParts(): CpuParts {
  const s = snapshot();
  const tree = descendants(s);
  const parts: CpuParts = { self: 0, server: 0, worker: 0, services: 0 };
  for (const [pid, p] of s.procs) {
    if (!tree.has(pid)) continue;
    if (pid === process.pid) parts.self += p.ticks / TICKS;
    else if (p.comm === 'temporal') parts.server += p.ticks / TICKS;
    else if (p.comm === 'node') {
      const name = nodeProcessName(pid);
      if (name === 'worker process') parts.worker += p.ticks / TICKS;
      else if (name === 'services process') parts.services += p.ticks / TICKS;
    }
  }
  return parts;
}
