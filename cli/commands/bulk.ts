/**
 * `inviteflow bulk`: invites every row of a CSV, paced, with a resumable report. Each row goes
 * through the API's own path (`prepareInvite`, then the shared starter): same validation, same
 * invite id, same conflict policy, so a row whose person already has an open invite for that
 * scope reports `exists` instead of inviting twice, whoever started the first one.
 */
import { emailSearchKey } from '../../client/codec';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { createInviteStarter, inviteStartMeta, prepareInvite, restampInvite, tenantDefaults } from '../../client/invites';
import type { InviteRequest, InviteStarter, PreparedInvite, TenantDefaults } from '../../client/invites';
import { InvalidInviteInput, normalizeEmail } from '../../workflows/input';
import type { AccountPolicy, JsonValue } from '../../workflows/messages';
import { unknownCrmProperties, unknownCrmPropertiesText } from '../crm-properties';
import { CsvError, parseCsv } from '../csv';
import { CliError, EXIT, jsonLine, line, usageError } from '../io';
import type { ExitCode } from '../io';
import { DONE_OUTCOMES, PreviousReport, readReport, ReportFormatError, ReportWriter } from '../report';
import type { Outcome, ReportRow } from '../report';
import { DEADLINES, interrupted, messageOf } from '../session';
import type { Session } from '../session';
import { unknownRoles, unknownRolesText } from '../roles';
import { createThrottle } from '../throttle';

/** Options of `bulk`, as commander parsed them. */
export interface BulkOptions {
  /** Starts per second. */
  rate: number;
  report?: string;
  dryRun?: boolean;
  scope?: string;
  roles?: string[];
  /** Account policy of rows without an `account_policy` cell; default the tenant's. */
  accountPolicy?: AccountPolicy;
  /** CRM properties of rows without a `crm_properties` cell; default the tenant's. */
  crmProperties?: string[];
}

const COLUMNS = ['email', 'scope', 'roles', 'locale', 'ttl', 'account_policy', 'crm_properties'];
const DATA_PREFIX = 'data_';

/** One input row, checked. */
interface Row {
  row: number;
  request: InviteRequest;
  /** Set when the row passed the input checks. */
  prepared?: PreparedInvite;
  /** Why it is not valid (its input, or a role Auth0 does not have). */
  problem?: string;
}

/** Counts of a run; `done` are rows a previous run already created (from the report). */
type Tally = Record<Outcome | 'done', number>;

/** Imports the rows of `file`. */
export async function bulkCommand(session: Session, file: string, opts: BulkOptions): Promise<ExitCode> {
  const cwd = session.io.cwd ?? process.cwd();
  const rows = readRows(resolve(cwd, file), opts);
  const idKey = session.idKey('to derive invite ids for bulk');
  const config = session.config();
  const defaults: TenantDefaults = { accountPolicy: config.ACCOUNT_POLICY, crmProperties: config.HUBSPOT_TOKEN_PROPERTIES };
  for (const row of rows) check(row, idKey, defaults);

  const reportPath = opts.report !== undefined ? resolve(cwd, opts.report) : undefined;
  if (reportPath === resolve(cwd, file)) throw usageError('--report must not be the input file');
  let previous: PreviousReport;
  try {
    previous = reportPath ? readReport(reportPath) : new PreviousReport();
  } catch (err) {
    if (err instanceof ReportFormatError || err instanceof CsvError) throw usageError(err.message);
    throw err;
  }
  const doneBefore = (row: Row) => {
    const old = row.prepared && previous.find(row.row, row.prepared.input.email, row.prepared.input.scope);
    return old && DONE_OUTCOMES.includes(old.outcome) ? old : undefined;
  };

  // Rows a previous run created are not checked again: a role deleted since does not undo them.
  await checkRoles(session, rows.filter((row) => !doneBefore(row)));
  await checkCrmProperties(session, rows.filter((row) => !doneBefore(row)));
  if (opts.dryRun) return dryRun(session, rows, doneBefore);

  const client = await session.client();
  const start = createInviteStarter(client, session.config().TEMPORAL_TASK_QUEUE, emailSearchKey(session.config()));
  const writer = reportPath ? new ReportWriter(reportPath) : undefined;
  const throttle = createThrottle(opts.rate, session.io.signal);
  const tally: Tally = { created: 0, exists: 0, skipped: 0, failed: 0, done: 0 };
  const results: ReportRow[] = [];
  const bar = progressBar(session, rows.length);
  let stopped: CliError | undefined;

  try {
    for (const row of rows) {
      if (session.io.signal?.aborted) {
        stopped = interrupted();
        break;
      }
      const old = doneBefore(row);
      let result: ReportRow;
      if (old) {
        result = { ...old, row: row.row };
        tally.done++;
      } else {
        try {
          result = await decide(session, row, start, throttle);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          // Temporal is gone or the operator pressed Ctrl-C: record the row, keep the report resumable.
          stopped = err;
          if (err.exit === EXIT.interrupted) break;
          result = reportRow(row, 'failed', err.message);
        }
        tally[result.outcome]++;
        writer?.append(result);
      }
      results.push(result);
      if (session.json) jsonLine(session.io.stdout, { ...result, ...(old ? { resumed: true } : {}) });
      bar?.increment(1, tally);
      if (stopped) break;
    }
  } finally {
    bar?.stop();
    if (writer) writer.finish(withUnprocessed(rows, results, previous));
  }

  printSummary(session, results, tally, reportPath);
  if (stopped) throw stopped;
  return tally.skipped + tally.failed > 0 ? EXIT.failed : EXIT.ok;
}

/** Starts one valid row, or reports why it is skipped or failed; throws only to stop the run. */
async function decide(
  session: Session,
  row: Row,
  start: InviteStarter,
  throttle: () => Promise<void>,
): Promise<ReportRow> {
  if (!row.prepared || row.problem) return reportRow(row, 'skipped', row.problem ?? 'invalid');
  try {
    await throttle();
  } catch {
    throw interrupted();
  }
  // Checked when the file was read; created now.
  const { input, invite } = restampInvite(row.prepared);
  try {
    const { started } = await session.call(DEADLINES.readMs, () => start(input, inviteStartMeta(invite)));
    return reportRow(
      row,
      started ? 'created' : 'exists',
      started ? '' : 'an invite for this email and scope is already open',
    );
  } catch (err) {
    if (err instanceof CliError) throw err;
    return reportRow(row, 'failed', messageOf(err));
  }
}

function dryRun(session: Session, rows: Row[], doneBefore: (row: Row) => ReportRow | undefined): ExitCode {
  const { stdout } = session.io;
  let valid = 0;
  let skipped = 0;
  let done = 0;
  for (const row of rows) {
    const old = doneBefore(row);
    const outcome = old ? 'done' : row.prepared && !row.problem ? 'valid' : 'skipped';
    if (outcome === 'valid') valid++;
    else if (outcome === 'done') done++;
    else skipped++;
    const entry = { ...reportRow(row, 'skipped', row.problem ?? ''), outcome };
    if (session.json) jsonLine(stdout, entry);
    else if (outcome === 'skipped') line(stdout, `row ${row.row}  skipped  ${entry.email}  ${entry.reason}`);
  }
  if (!session.json) {
    line(
      stdout,
      `dry run: ${rows.length} rows · ${valid} would be started · ${skipped} skipped · ${done} already done; nothing was started`,
    );
  }
  return skipped > 0 ? EXIT.failed : EXIT.ok;
}

/** The input rows, each turned into a request; a malformed file or header is a usage error. */
function readRows(path: string, opts: BulkOptions): Row[] {
  let records: string[][];
  try {
    records = parseCsv(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof CsvError) throw usageError(`${path}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES')
      throw usageError(`cannot read ${path} (${code})`);
    throw err;
  }
  const [header, ...body] = records;
  if (!header) throw usageError(`${path} is empty; it needs a header row with at least an "email" column`);
  const columns = header.map((h) => h.trim().toLowerCase());
  const unknown = columns.filter(
    (c) => !COLUMNS.includes(c) && !(c.startsWith(DATA_PREFIX) && c.length > DATA_PREFIX.length),
  );
  if (unknown.length > 0) {
    // A misspelt "roles" would silently invite people without their roles: refuse instead.
    throw usageError(
      `unknown column(s) ${unknown.map((c) => `"${c}"`).join(', ')}; known: ${COLUMNS.join(', ')}, ${DATA_PREFIX}<name>`,
    );
  }
  const duplicate = columns.find((c, i) => columns.indexOf(c) !== i);
  if (duplicate) throw usageError(`column "${duplicate}" appears twice`);
  if (!columns.includes('email')) throw usageError(`${path} has no "email" column`);

  return body.map((fields, i): Row => {
    const row = i + 2;
    const cell = (name: string) => {
      const index = columns.indexOf(name);
      const value = index < 0 ? undefined : fields[index]?.trim();
      return value === '' ? undefined : value;
    };
    const data: Record<string, JsonValue> = {};
    columns.forEach((c, index) => {
      const value = fields[index];
      if (c.startsWith(DATA_PREFIX) && value !== undefined && value !== '')
        data[c.slice(DATA_PREFIX.length)] = value;
    });
    const roles = cell('roles');
    const crmProperties = cell('crm_properties');
    const accountPolicy = cell('account_policy') ?? opts.accountPolicy;
    const request: InviteRequest = {
      email: fields[columns.indexOf('email')] ?? '',
      scope: cell('scope') ?? opts.scope,
      roles:
        roles !== undefined
          ? roles
              .split(';')
              .map((r) => r.trim())
              .filter(Boolean)
          : (opts.roles ?? []),
      data,
      ...(cell('locale') !== undefined ? { locale: cell('locale') } : {}),
      ...(cell('ttl') !== undefined ? { ttl: cell('ttl') } : {}),
      // Checked with the rest of the row by the invite input's own validation.
      ...(accountPolicy !== undefined ? { accountPolicy: accountPolicy as AccountPolicy } : {}),
      ...(crmProperties !== undefined
        ? { crmProperties: crmProperties.split(';').map((p) => p.trim()).filter(Boolean) }
        : opts.crmProperties !== undefined
          ? { crmProperties: opts.crmProperties }
          : {}),
    };
    if (fields.length > columns.length)
      return { row, request, problem: `has ${fields.length} fields but the header has ${columns.length}` };
    return { row, request };
  });
}

/** Runs the API's validation on a row; an invalid row keeps its problems as the reason. */
function check(row: Row, idKey: string, defaults: TenantDefaults): void {
  if (row.problem) return;
  try {
    // The tenant's defaults are written into each invite, as the API does.
    row.prepared = prepareInvite(idKey, tenantDefaults(row.request, defaults));
  } catch (err) {
    if (!(err instanceof InvalidInviteInput)) throw err;
    row.problem = err.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  }
}

/**
 * Marks the valid rows naming a role the Auth0 tenant does not have (`unknown_role`), as the API
 * refuses them; one listing of the roles for the whole file (`../roles`).
 */
function checkRoles(session: Session, rows: Row[]): Promise<void> {
  return markUnknown(
    rows,
    (invite) => invite.roles,
    (names) => unknownRoles(session, names),
    (missing) => `unknown_role: ${unknownRolesText(missing)}`,
  );
}

/**
 * Marks the valid rows binding a contact property HubSpot does not have (`unknown_crm_property`),
 * as the API refuses them; one listing of the properties for the whole file (`../crm-properties`).
 */
function checkCrmProperties(session: Session, rows: Row[]): Promise<void> {
  return markUnknown(
    rows,
    (invite) => invite.crmProperties,
    (names) => unknownCrmProperties(session, names),
    (missing) => `unknown_crm_property: ${unknownCrmPropertiesText(missing)}`,
  );
}

/** Asks `unknownOf` once for the names of every valid row, and marks the rows naming an unknown one with `problem`. */
async function markUnknown(
  rows: Row[],
  namesOf: (invite: PreparedInvite['invite']) => readonly string[],
  unknownOf: (names: string[]) => Promise<Set<string>>,
  problem: (missing: string[]) => string,
): Promise<void> {
  const named = rows.filter((row) => row.prepared && !row.problem && namesOf(row.prepared.invite).length > 0);
  const unknown = await unknownOf([...new Set(named.flatMap((row) => namesOf(row.prepared!.invite)))]);
  for (const row of named) {
    const missing = namesOf(row.prepared!.invite).filter((name) => unknown.has(name));
    if (missing.length > 0) row.problem = problem(missing);
  }
}

function reportRow(row: Row, outcome: Outcome, reason: string): ReportRow {
  return {
    row: row.row,
    email: row.prepared?.input.email ?? normalizeEmail(row.request.email),
    scope: row.prepared?.input.scope ?? row.request.scope ?? '',
    outcome,
    inviteId: row.problem ? '' : (row.prepared?.input.inviteId ?? ''),
    reason,
  };
}

/** This run's rows, then for rows it did not reach, what the previous report said of them. */
function withUnprocessed(rows: Row[], results: ReportRow[], previous: PreviousReport): ReportRow[] {
  const out = [...results];
  for (const row of rows.slice(results.length)) {
    const { email, scope } = reportRow(row, 'skipped', '');
    const old = previous.find(row.row, email, scope);
    if (old) out.push({ ...old, row: row.row });
  }
  return out;
}

/** A bar on a terminal only: never in a pipe, a log file or JSON output. */
function progressBar(session: Session, total: number): cliProgress.SingleBar | undefined {
  const { stderr } = session.io;
  if (session.json || stderr.isTTY !== true) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr as NodeJS.WritableStream,
      format:
        'bulk {bar} {value}/{total} · {created} created · {exists} exists · {skipped} skipped · {failed} failed · {done} done before · ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { created: 0, exists: 0, skipped: 0, failed: 0, done: 0 });
  return bar;
}

function printSummary(
  session: Session,
  results: ReportRow[],
  tally: Tally,
  reportPath: string | undefined,
): void {
  const { stdout } = session.io;
  const summary = { rows: results.length, ...tally, ...(reportPath ? { report: reportPath } : {}) };
  if (session.json) {
    jsonLine(stdout, { summary });
    return;
  }
  line(
    stdout,
    `bulk: ${results.length} rows · ${tally.created} created · ${tally.exists} exists · ${tally.skipped} skipped · ${tally.failed} failed · ${tally.done} already done`,
  );
  const problems = results.filter((r) => r.outcome === 'skipped' || r.outcome === 'failed');
  const shown = problems.slice(0, 20);
  for (const r of shown) line(stdout, `  row ${r.row}  ${r.outcome}  ${r.email}  ${r.reason}`);
  if (problems.length > shown.length)
    line(stdout, `  … and ${problems.length - shown.length} more${reportPath ? ' (see the report)' : ''}`);
  if (reportPath) line(stdout, `report: ${reportPath}`);
}
