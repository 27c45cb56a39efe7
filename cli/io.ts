/**
 * What a CLI run writes to and how it ends: injected writers (so tests run the CLI in-process),
 * the exit codes, and the error that carries one of them with a stable code.
 */

/** Somewhere to write text; `isTTY` and `columns` as on a Node stream. */
export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** The outside world of one run. */
export interface CliIO {
  stdout: Output;
  stderr: Output;
  /** Environment to read the configuration from; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Directory relative paths are resolved against; default `process.cwd()`. */
  cwd?: string;
  /**
   * Directory of the local stack's files (`.data/` of the checkout, written by `npm run dev`):
   * settings the environment lacks are read from there when it targets the local stack. Unset: none.
   */
  localStack?: string;
  /** Aborted on Ctrl-C: a bulk import stops after the current row and keeps its report. */
  signal?: AbortSignal;
}

/** Exit codes; scripts rely on them, so they never change meaning. */
export const EXIT = {
  ok: 0,
  /** A refused or failed operation (the invite is not pending, a bulk row failed, …). */
  failed: 1,
  /** Bad command line: unknown command or option, missing or malformed argument. */
  usage: 2,
  /** No invite has this id (or email and scope). */
  notFound: 3,
  /** Temporal did not answer: unreachable, or no answer before the deadline. */
  unavailable: 4,
  /** Interrupted (Ctrl-C); a bulk report stays resumable. */
  interrupted: 130,
  /** The environment is incomplete or malformed (EX_CONFIG of sysexits.h). */
  config: 78,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the run with `exit`; `code` is stable, `message` is for people. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exit: ExitCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, 'usage', message);
}

/** Writes one line. */
export function line(out: Output, text = ''): void {
  out.write(`${text}\n`);
}

/** Writes one JSON value on its own line (JSON Lines). */
export function jsonLine(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/** Left-aligned columns with a header row, for people (scripts use `--json`). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].join('\n');
}
