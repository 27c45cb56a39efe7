/**
 * One of our entry points (the worker, the API) as operators run it: a child process configured by
 * its environment, started under tsx's loader (so a SIGKILL reaches the program itself), ready
 * when it logs its start line, and killable with SIGKILL at any moment.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tsProcess } from '../../scripts/ts-process';
import { refuseInUnitLayer } from './layer';

const ROOT = join(import.meta.dirname, '..', '..');

/** A restartable child process of an entry point. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  /** How many times it was started. */
  starts = 0;
  /** When each SIGKILL was sent (ms since the epoch). */
  readonly killedAt: number[] = [];
  /** The tail of what the current run printed (stdout and stderr). */
  output = '';

  /**
   * @param entry the entry point, from the repository's root (`worker/main.ts`, `api/main.ts`)
   * @param ready the log message that says it serves (`worker started`, `api started`)
   */
  constructor(
    readonly entry: string,
    private readonly ready: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Whether the process is running. */
  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it and resolves once it logged its start line; rejects if it exits first. */
  async start(): Promise<void> {
    refuseInUnitLayer(`a child process (${this.entry})`);
    const [command, args] = tsProcess(join(ROOT, this.entry));
    const child = spawn(command, args, { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    let stderr = '';
    this.output = '';
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const marker = `"${this.ready}"`;
      const onData = (d: Buffer) => {
        out = (out + d.toString()).slice(-10_000);
        if (out.includes(marker)) {
          child.stdout.off('data', onData);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`${this.entry} exited (${code}) before starting: ${stderr}${out.slice(-2000)}`));
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** Sends SIGTERM (an orchestrator's stop) and resolves with the exit code. */
  async terminate(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    return exited;
  }

  /** SIGKILLs it and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    this.killedAt.push(Date.now());
    child.kill('SIGKILL');
    await exited;
  }
}
