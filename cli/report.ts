/**
 * The report of a bulk import: one CSV row per input row with its outcome. Rows are appended as
 * they are decided, so an interrupted or crashed run leaves a report that the next run resumes
 * from; at the end the report is rewritten in input order, one row per input row.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { formatCsvRecord, parseCsv } from './csv';

/** The outcome of one input row. */
export type Outcome = 'created' | 'exists' | 'skipped' | 'failed';

/** Outcomes after which a row is done: re-running with the report does not start it again. */
export const DONE_OUTCOMES: readonly Outcome[] = ['created', 'exists'];

/** One row of the report. */
export interface ReportRow {
  /** Row of the input as a spreadsheet numbers it (the header is row 1). */
  row: number;
  email: string;
  scope: string;
  outcome: Outcome;
  inviteId: string;
  reason: string;
}

/** The report's columns, in order. */
export const REPORT_COLUMNS = ['row', 'email', 'scope', 'outcome', 'invite_id', 'reason'] as const;

const OUTCOMES: readonly string[] = ['created', 'exists', 'skipped', 'failed'];

/** Thrown when an existing file is not a report of this tool (it is left untouched). */
export class ReportFormatError extends Error {
  constructor(path: string, why: string) {
    super(`${path} is not a bulk report (${why}); pass another --report path`);
    this.name = 'ReportFormatError';
  }
}

/** What an existing report says; empty when there is none. */
export class PreviousReport {
  private readonly byRow = new Map<string, ReportRow>();
  private readonly byInvite = new Map<string, ReportRow>();

  /** Takes rows in file order: a later row about the same input row wins (appended after a crash). */
  constructor(rows: readonly ReportRow[] = []) {
    for (const row of rows) {
      this.byRow.set(`${row.row}\n${row.email}\n${row.scope}`, row);
      const known = this.byInvite.get(`${row.email}\n${row.scope}`);
      if (!known || !DONE_OUTCOMES.includes(known.outcome) || DONE_OUTCOMES.includes(row.outcome))
        this.byInvite.set(`${row.email}\n${row.scope}`, row);
    }
  }

  /**
   * The previous row about this input row: same row number, email and scope; else, when rows
   * moved (the file was edited), the row of the same email and scope that was done, if any.
   */
  find(row: number, email: string, scope: string): ReportRow | undefined {
    return this.byRow.get(`${row}\n${email}\n${scope}`) ?? this.byInvite.get(`${email}\n${scope}`);
  }
}

/** Reads an existing report (none at `path` gives an empty one). */
export function readReport(path: string): PreviousReport {
  if (!existsSync(path)) return new PreviousReport();
  const [header, ...records] = parseCsv(readFileSync(path, 'utf8'));
  if (!header) return new PreviousReport();
  if (header.join(',') !== REPORT_COLUMNS.join(','))
    throw new ReportFormatError(path, `its header is not ${REPORT_COLUMNS.join(',')}`);
  return new PreviousReport(
    records.map(([row, email, scope, outcome, inviteId, reason]) => {
      if (
        email === undefined ||
        scope === undefined ||
        outcome === undefined ||
        !OUTCOMES.includes(outcome)
      ) {
        throw new ReportFormatError(path, 'a row has no valid outcome');
      }
      return {
        row: Number(row),
        email,
        scope,
        outcome: outcome as Outcome,
        inviteId: inviteId ?? '',
        reason: reason ?? '',
      };
    }),
  );
}

/** Appends rows as they are decided; `finish` rewrites the report in input order. */
export class ReportWriter {
  private fd: number;

  constructor(private readonly path: string) {
    const fresh = !existsSync(path) || readFileSync(path, 'utf8').trim() === '';
    this.fd = openSync(path, fresh ? 'w' : 'a');
    if (fresh) writeSync(this.fd, formatCsvRecord(REPORT_COLUMNS));
  }

  /** Records one row at once, so that a crash loses at most the row being written. */
  append(row: ReportRow): void {
    writeSync(this.fd, formatCsvRecord(toRecord(row)));
  }

  /** Replaces the report with `rows` (one per input row, in order) in one rename. */
  finish(rows: readonly ReportRow[]): void {
    closeSync(this.fd);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, [REPORT_COLUMNS, ...rows.map(toRecord)].map(formatCsvRecord).join(''));
    renameSync(tmp, this.path);
  }
}

function toRecord(row: ReportRow): string[] {
  return [String(row.row), row.email, row.scope, row.outcome, row.inviteId, row.reason];
}
