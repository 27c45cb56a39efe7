/**
 * The operator CLI: `run(argv, io)` parses a command line with commander, runs the command
 * against Temporal and returns the exit code. Nothing here touches `process` (the bin does), so
 * tests run the CLI in-process with their own writers and environment.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { INVITE_STATES } from '../client/invite-search';
import { DEFAULT_SCOPE } from '../client/invites';
import { ACCOUNT_POLICIES } from '../workflows/messages';
import type { AccountPolicy } from '../workflows/messages';
import { bulkCommand } from './commands/bulk';
import { createCommand } from './commands/create';
import { listCommand } from './commands/list';
import { extendCommand, resendCommand, revokeCommand } from './commands/operate';
import { showCommand } from './commands/show';
import { tokenCommand } from './commands/token';
import { CliError, EXIT, jsonLine, line } from './io';
import type { CliIO, ExitCode } from './io';
import { createSession } from './session';
import type { Session } from './session';
import { parseRate } from './throttle';

/** What callers of `run` pass and get back. */
export type { CliIO, ExitCode, Output } from './io';
/** The exit codes, by meaning. */
export { EXIT } from './io';

const EXIT_CODES_HELP = `
Exit codes:
  0   ok
  1   the operation was refused or failed (the stable code is printed)
  2   usage error
  3   no such invite
  4   cannot reach Temporal (or no answer in time), or Auth0 for the role check, or HubSpot for the CRM property check
  78  configuration error (environment)
  130 interrupted (bulk keeps its report resumable)

Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default),
TEMPORAL_TASK_QUEUE (invites), TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY,
PAYLOAD_KEYS (required: the worker's keys; or PAYLOAD_ENCRYPTION=off when it runs in clear);
INVITE_ID_KEY for bulk and for naming an invite by email; AUTH0_DOMAIN, AUTH0_CLIENT_ID,
AUTH0_CLIENT_SECRET (the API's application) for create and bulk when they name roles, which are
checked in Auth0, and for token; HUBSPOT_ACCESS_TOKEN (HUBSPOT_BASE_PATH locally) for create and
bulk when invites bind CRM properties, which are checked in HubSpot; ACCOUNT_POLICY and
HUBSPOT_TOKEN_PROPERTIES, the API's defaults of new invites. When TEMPORAL_ADDRESS is unset or the local stack's, settings
the environment lacks come from the files \`npm run dev\` writes into this checkout's .data/
(local-secrets.json, local-stack.json).`;

/** Runs one command line (without the node and script arguments) and returns its exit code. */
export async function run(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  let exit: ExitCode = EXIT.ok;
  let session: Session | undefined;
  const program = buildProgram(
    io,
    (json) => (session ??= createSession(io, json)),
    (code) => (exit = code),
  );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; every other commander error is a bad command line.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const json = program.opts<{ json?: boolean }>().json === true;
    const failure =
      err instanceof CliError
        ? err
        : new CliError(EXIT.failed, 'error', err instanceof Error ? err.message : String(err));
    if (json)
      jsonLine(io.stderr, {
        error: {
          code: failure.code,
          message: failure.message,
          ...(failure.details !== undefined ? { details: failure.details } : {}),
        },
      });
    else line(io.stderr, `inviteflow: ${failure.code}: ${failure.message}${detailText(failure.details)}`);
    return failure.exit;
  } finally {
    await session?.close();
  }
}

function detailText(details: unknown): string {
  if (details === undefined) return '';
  if (Array.isArray(details)) return details.map((d) => `\n  ${String(d)}`).join('');
  return ` ${JSON.stringify(details)}`;
}

function buildProgram(
  io: CliIO,
  sessionFor: (json: boolean) => Session,
  done: (code: ExitCode) => void,
): Command {
  const program = new Command('inviteflow')
    .description('Operate inviteflow invites on Temporal: list, show, create, revoke, resend, extend, bulk-create; print an API token.')
    .option(
      '--json',
      'machine-readable output: one JSON object per line on stdout (errors as JSON on stderr)',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);

  // Each action hands its exit code back; errors travel as exceptions to `run`.
  const action =
    <A extends unknown[]>(fn: (session: Session, ...args: A) => Promise<ExitCode>) =>
    async (...args: A) => {
      done(await fn(sessionFor(program.opts<{ json?: boolean }>().json === true), ...args));
    };

  program
    .command('list')
    .description('List invites from Temporal visibility (newest first; can lag a few seconds behind)')
    .addOption(new Option('--status <state>', 'only invites in this state').choices([...INVITE_STATES]))
    .option('--email <email>', 'only invites of this address')
    .option('--scope <scope>', 'only invites of this scope')
    .option('--limit <n>', 'at most this many invites (1-1000)', integer(1, 1000), 20)
    .action(
      action((session, opts: { status?: string; email?: string; scope?: string; limit: number }) =>
        listCommand(session, opts),
      ),
    );

  program
    .command('show')
    .description('Show an invite: its status and a summary of its workflow history')
    .argument('<invite>', 'invite id (or invite-<id>), or the invited email with --scope')
    .option('--scope <scope>', 'scope of the invite when naming it by email', DEFAULT_SCOPE)
    .action(
      action((session, ref: string, opts: { scope: string }) =>
        showCommand(session, { ref, scope: opts.scope }),
      ),
    );

  program
    .command('create')
    .description('Invite one person, as POST /v1/invites does (roles checked in Auth0, one open invite per email and scope)')
    .argument('<email>', 'the invitee')
    .option('--scope <scope>', 'what the invite is for', DEFAULT_SCOPE)
    .option('--roles <a,b>', 'Auth0 role names granted on redemption (comma-separated; each must exist)', list)
    .option('--locale <locale>', 'language of the emails and pages: en (default) or fr')
    .option('--ttl <duration>', 'time to live, e.g. "14 days" (default 7 days, at most 30)')
    .option('--data <json>', 'our data bound to the account, a JSON object (at most 8 kB, 5 levels, 100 keys)')
    .addOption(
      new Option('--account-policy <policy>', "which Auth0 accounts of the person get the grant (default: the tenant's ACCOUNT_POLICY)").choices([
        ...ACCOUNT_POLICIES,
      ]),
    )
    .option(
      '--crm-property <name>',
      "a HubSpot contact property bound to the invite; repeat for more (default: the tenant's HUBSPOT_TOKEN_PROPERTIES; each must exist)",
      collect,
    )
    .option('--dry-run', 'check everything (roles in Auth0 and CRM properties in HubSpot included) and start nothing')
    .addHelpText('after', '\nAn invite already open for the email and scope is left as it is ("exists", exit 0).')
    .action(
      action(
        (
          session,
          email: string,
          { crmProperty, ...opts }: { scope: string; roles?: string[]; locale?: string; ttl?: string; data?: string; accountPolicy?: AccountPolicy; crmProperty?: string[]; dryRun?: boolean },
        ) => createCommand(session, email, { ...opts, ...(crmProperty ? { crmProperties: crmProperty } : {}) }),
      ),
    );

  program
    .command('revoke')
    .description('Revoke a pending invite')
    .argument('<invite>', 'invite id (or invite-<id>), or the invited email with --scope')
    .option('--reason <text>', 'why (kept in the invite status, at most 500 characters)')
    .option('--scope <scope>', 'scope of the invite when naming it by email', DEFAULT_SCOPE)
    .action(
      action((session, ref: string, opts: { reason?: string; scope: string }) =>
        revokeCommand(session, { ref, scope: opts.scope }, opts),
      ),
    );

  program
    .command('resend')
    .description('Email a pending invite again with a fresh link (rate limited by the workflow)')
    .argument('<invite>', 'invite id (or invite-<id>), or the invited email with --scope')
    .option('--scope <scope>', 'scope of the invite when naming it by email', DEFAULT_SCOPE)
    .action(
      action((session, ref: string, opts: { scope: string }) =>
        resendCommand(session, { ref, scope: opts.scope }),
      ),
    );

  program
    .command('extend')
    .description('Move the expiry of a pending invite to ttl from now and email a fresh link')
    .argument('<invite>', 'invite id (or invite-<id>), or the invited email with --scope')
    .requiredOption('--ttl <duration>', 'new time to live from now, e.g. "14 days" (at most 30 days)')
    .option('--scope <scope>', 'scope of the invite when naming it by email', DEFAULT_SCOPE)
    .action(
      action((session, ref: string, opts: { ttl: string; scope: string }) =>
        extendCommand(session, { ref, scope: opts.scope }, opts),
      ),
    );

  program
    .command('bulk')
    .description('Create invites from a CSV file, paced, with a resumable report')
    .argument('<file.csv>', 'header row; columns email, scope, roles (a;b), locale, ttl, account_policy, crm_properties (a;b), data_<name>')
    .option('--rate <rate>', 'most starts per second or minute, e.g. 5/s or 120/min', rate, 5)
    .option(
      '--report <report.csv>',
      'write one row per input row; an existing report is resumed (done rows are skipped)',
    )
    .option('--dry-run', 'check every row and print what would happen; start nothing, write no report')
    .option('--scope <scope>', 'scope of rows without one', DEFAULT_SCOPE)
    .option('--roles <a,b>', 'roles of rows without a roles cell (comma-separated)', list)
    .addOption(
      new Option('--account-policy <policy>', "account policy of rows without an account_policy cell (default: the tenant's ACCOUNT_POLICY)").choices([
        ...ACCOUNT_POLICIES,
      ]),
    )
    .option(
      '--crm-property <name>',
      "a HubSpot contact property of rows without a crm_properties cell; repeat for more (default: the tenant's HUBSPOT_TOKEN_PROPERTIES)",
      collect,
    )
    .addHelpText(
      'after',
      '\nA row whose email and scope already have an open invite reports "exists"; invalid rows are "skipped" with the reason,' +
        '\nincluding rows naming a role the Auth0 tenant does not have (unknown_role) or a contact property HubSpot does not have' +
        '\n(unknown_crm_property).',
    )
    .action(
      action(
        (
          session,
          file: string,
          { crmProperty, ...opts }: { rate: number; report?: string; dryRun?: boolean; scope: string; roles?: string[]; accountPolicy?: AccountPolicy; crmProperty?: string[] },
        ) => bulkCommand(session, file, { ...opts, ...(crmProperty ? { crmProperties: crmProperty } : {}) }),
      ),
    );

  program
    .command('token')
    .description('Print an access token for the API (client credentials; the local Auth0 emulator of npm run dev by default)')
    .option('--scope <scopes>', 'space-separated scopes to ask for', 'invites:create invites:read invites:write')
    .option('--audience <audience>', 'the API\'s audience (default AUTH_AUDIENCE, else https://inviteflow/api)')
    .addHelpText('after', '\nExample: curl -H "authorization: Bearer $(npx inviteflow token)" http://localhost:3000/v1/invites')
    .action(action((session, opts: { scope: string; audience?: string }) => tokenCommand(session, opts)));

  return program;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function rate(value: string): number {
  const perSecond = parseRate(value);
  if (perSecond === undefined) throw new InvalidArgumentError('must be a rate like 5/s, 120/min or 1000/h');
  return perSecond;
}

/** A repeatable option: each occurrence adds its value. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value.trim()];
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}
