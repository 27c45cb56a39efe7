/**
 * `inviteflow create`: invites one person, through the API's own path (`prepareInvite` with the
 * tenant's defaults, the role check in Auth0 and the CRM property check in HubSpot, then the
 * shared starter), so an operator's invite obeys the same rules as the funnel's: same validation
 * and bounds, roles and properties that exist, one open invite per email and scope.
 */
import { emailSearchKey } from '../../client/codec';
import { createInviteStarter, inviteStartMeta, prepareInvite, restampInvite, tenantDefaults } from '../../client/invites';
import type { InviteRequest, PreparedInvite } from '../../client/invites';
import { InvalidInviteInput } from '../../workflows/input';
import type { AccountPolicy, JsonValue } from '../../workflows/messages';
import { unknownCrmProperties, unknownCrmPropertiesText } from '../crm-properties';
import { CliError, EXIT, jsonLine, line, usageError } from '../io';
import type { ExitCode } from '../io';
import { unknownRoles, unknownRolesText } from '../roles';
import { DEADLINES } from '../session';
import type { Session } from '../session';

/** Options of `create`, as commander parsed them. */
export interface CreateOptions {
  scope: string;
  roles?: string[];
  locale?: string;
  ttl?: string;
  /** A JSON object, as text. */
  data?: string;
  /** Default: the tenant's ACCOUNT_POLICY. */
  accountPolicy?: AccountPolicy;
  /** `--crm-property`, repeated; default: the tenant's HUBSPOT_TOKEN_PROPERTIES. */
  crmProperties?: string[];
  dryRun?: boolean;
}

/** Creates one invite (or, with `--dry-run`, checks it and says what would happen). */
export async function createCommand(session: Session, email: string, opts: CreateOptions): Promise<ExitCode> {
  const request: InviteRequest = {
    email,
    scope: opts.scope,
    roles: opts.roles ?? [],
    data: parseData(opts.data),
    ...(opts.locale !== undefined ? { locale: opts.locale } : {}),
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
    ...(opts.accountPolicy !== undefined ? { accountPolicy: opts.accountPolicy } : {}),
    ...(opts.crmProperties !== undefined ? { crmProperties: opts.crmProperties } : {}),
  };
  let prepared: PreparedInvite;
  try {
    const config = session.config();
    prepared = prepareInvite(
      session.idKey('to derive the invite id'),
      tenantDefaults(request, { accountPolicy: config.ACCOUNT_POLICY, crmProperties: config.HUBSPOT_TOKEN_PROPERTIES }),
    );
  } catch (err) {
    if (!(err instanceof InvalidInviteInput)) throw err;
    throw new CliError(
      EXIT.failed,
      'invalid_request',
      'The invite is invalid; nothing was started',
      err.problems.map((p) => `${p.field}: ${p.message}`),
    );
  }
  const unknown = [...(await unknownRoles(session, prepared.invite.roles))];
  if (unknown.length > 0) {
    throw new CliError(EXIT.failed, 'unknown_role', `${capitalize(unknownRolesText(unknown))}; nothing was started`, unknown);
  }
  const unknownCrm = [...(await unknownCrmProperties(session, prepared.invite.crmProperties))];
  if (unknownCrm.length > 0) {
    const where = opts.crmProperties === undefined ? ' (the default CRM properties, HUBSPOT_TOKEN_PROPERTIES)' : '';
    throw new CliError(
      EXIT.failed,
      'unknown_crm_property',
      `${capitalize(unknownCrmPropertiesText(unknownCrm))}${where}; nothing was started`,
      unknownCrm,
    );
  }

  const { inviteId, email: normalized, scope } = prepared.input;
  if (opts.dryRun) {
    if (session.json) jsonLine(session.io.stdout, { outcome: 'valid', inviteId, email: normalized, scope });
    else line(session.io.stdout, `dry run: would invite ${normalized} in scope ${scope} (invite ${inviteId}); nothing was started`);
    return EXIT.ok;
  }
  const client = await session.client();
  const start = createInviteStarter(client, session.config().TEMPORAL_TASK_QUEUE, emailSearchKey(session.config()));
  const { input, invite } = restampInvite(prepared);
  const { started } = await session.call(DEADLINES.readMs, () => start(input, inviteStartMeta(invite)));
  const outcome = started ? 'created' : 'exists';
  if (session.json) jsonLine(session.io.stdout, { outcome, inviteId, email: normalized, scope });
  else
    line(
      session.io.stdout,
      started
        ? `created invite ${inviteId} for ${normalized} in scope ${scope}`
        : `exists: invite ${inviteId} for ${normalized} in scope ${scope} is already open (unchanged)`,
    );
  return EXIT.ok;
}

function parseData(text: string | undefined): Record<string, JsonValue> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usageError('--data must be a JSON object, e.g. \'{"plan":"pro"}\'');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw usageError('--data must be a JSON object, e.g. \'{"plan":"pro"}\'');
  return value as Record<string, JsonValue>;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
