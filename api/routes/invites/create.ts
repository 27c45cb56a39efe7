/**
 * `POST /v1/invites`: starts an invite unless one is open for the email and scope (then answers
 * it, 200). The request is checked in full, roles included, before anything starts or is revoked.
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { RolesUnavailableError } from '../../../services/auth0-roles';
import { CrmPropertiesUnavailableError } from '../../../services/hubspot-properties';
import { inviteStartMeta, prepareInvite, restampInvite, tenantDefaults } from '../../../client/invites';
import type { PreparedInvite } from '../../../client/invites';
import { initialInviteStatus, InvalidInviteInput } from '../../../workflows/input';
import { revokeUpdate } from '../../../workflows/messages';
import type { InviteStatus, JsonValue } from '../../../workflows/messages';
import type { AppConfig, RouteContext } from '../../context';
import { ApiError, errorBodySchema, invalidRequest } from '../../errors';
import type { InviteGateway } from '../../invites-gateway';
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { createInviteBody, errors, inviteSchema, selfLink, toView } from './schemas';

/**
 * States of a run that has stopped being an open invite but may not have closed yet. Not
 * `undeliverable`: such an invite stays open (a delivered link still redeems) until it expires.
 */
const CLOSING_STATES = new Set<InviteStatus['state']>(['completed', 'expired', 'revoked', 'failed']);

const createSchema = {
  summary: 'Invite someone (idempotent per email and scope)',
  tags: ['invites'],
  security: security('invites:create'),
  body: createInviteBody,
  response: {
    200: inviteSchema.describe('An invite for this email and scope was already open; it is returned unchanged'),
    201: inviteSchema.describe('A new invite was started'),
    ...errors,
    400: errorBodySchema.describe(
      'invalid_request (details: one { field, message } per problem, e.g. data past a bound or an unknown accountPolicy), unknown_role ' +
        '(details: one { field, message, role } per role name the Auth0 tenant does not have), or unknown_crm_property ' +
        '(details: one { field, message, property } per CRM property HubSpot does not have); nothing is started',
    ),
    409: errorBodySchema,
    503: errorBodySchema.describe(
      'roles_unavailable: the Auth0 roles could not be read to check the request (Retry-After says when to retry), ' +
        'crm_properties_unavailable: the HubSpot contact properties could not be read to check crmProperties (Retry-After), ' +
        'or service_unavailable: Temporal did not answer; nothing is started',
    ),
  },
};

export function registerCreateInvite({ app, ctx, requireScope }: InviteRoutes): void {
  app.post('/v1/invites', { onRequest: requireScope('invites:create'), schema: createSchema }, async (request, reply) => {
    const prepared = prepareRequest(ctx.config, request.body);
    await checkRoles(ctx, request.body.roles, request);
    await checkCrmProperties(ctx, prepared.input.crmProperties ?? [], request.body.crmProperties === undefined, request);
    const revoked = request.body.replace ? await revokeOpen(ctx.gateway, prepared.invite.inviteId) : false;
    const { started, status } = await startOrFind(ctx.gateway, prepared);

    ctx.metrics.invitesCreated.inc({ result: started ? (revoked ? 'replaced' : 'created') : 'existing' });
    const { inviteId } = prepared.invite;
    request.log.info({ inviteId, started, by: request.principal?.subject }, started ? 'invite started' : 'invite already open');
    if (started) void reply.header('location', selfLink(inviteId));
    return reply.code(started ? 201 : 200).send(toView(status));
  });
}

/** The workflow's own check, run here first so that a bad input starts nothing. */
function prepareRequest(config: AppConfig, body: z.output<typeof createInviteBody>): PreparedInvite {
  try {
    // An invite opts in to claim by verified email itself, or through its scope's setting.
    const claimByVerifiedEmail = body.claimByVerifiedEmail ?? config.CLAIM_BY_EMAIL_SCOPES.includes(body.scope);
    // The tenant's defaults are written into the input: changing them later changes no running invite.
    const request = tenantDefaults(
      { ...body, data: body.data as Record<string, JsonValue>, claimByVerifiedEmail },
      { accountPolicy: config.ACCOUNT_POLICY, crmProperties: config.HUBSPOT_TOKEN_PROPERTIES },
    );
    return prepareInvite(config.INVITE_ID_KEY, request);
  } catch (err) {
    if (err instanceof InvalidInviteInput) throw invalidRequest(err.problems);
    throw err;
  }
}

/**
 * Starts the invite, or finds the open one. A run just started holds exactly what was sent: its
 * status is known without asking it (a query would wait until a worker has run its first
 * workflow task). An open run met in a closing state is no longer open: once it has closed, its
 * id starts a fresh invite.
 */
async function startOrFind(gateway: InviteGateway, prepared: PreparedInvite): Promise<{ started: boolean; status: InviteStatus }> {
  const { inviteId } = prepared.invite;
  const startNow = async () => {
    const { input, invite } = restampInvite(prepared);
    const { runId, started } = await gateway.start(input, inviteStartMeta(invite));
    return { runId, started, status: started ? initialInviteStatus(invite, invite.createdAtMs!) : undefined };
  };
  let { runId, started, status } = await startNow();
  if (status) return { started, status };
  status = await gateway.status(inviteId, runId);
  if (!CLOSING_STATES.has(status.state)) return { started, status };
  // Revoked, declined, expired or done, its run finishing its last step.
  await gateway.waitClosed(inviteId, runId);
  ({ runId, started, status } = await startNow());
  return { started, status: status ?? (await gateway.status(inviteId, runId)) };
}

/** The HTTP status of a failed Management API call, if it got one (never its message or headers). */
const statusOf = (err: unknown) => (typeof err === 'object' && err !== null && typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : undefined);

/**
 * Refuses role names the Auth0 tenant does not have (`400 unknown_role`, one detail per name
 * with its place in the request), and answers `503 roles_unavailable` with `Retry-After` when
 * Auth0 cannot be asked: never a silent yes. Called before anything is started or revoked.
 */
async function checkRoles(ctx: RouteContext, roles: string[], request: FastifyRequest): Promise<void> {
  let unknown: string[];
  try {
    unknown = await ctx.roles.unknownRoles(roles);
  } catch (err) {
    if (!(err instanceof RolesUnavailableError)) throw err;
    request.log.warn({ retryAfterSeconds: err.retryAfterSeconds, auth0Status: statusOf(err.cause) }, 'auth0 roles unavailable; invite refused');
    throw new ApiError(
      'roles_unavailable',
      'The Auth0 roles cannot be checked right now, so nothing was started; retry later',
      undefined,
      { 'retry-after': String(err.retryAfterSeconds) },
    );
  }
  if (unknown.length === 0) return;
  throw new ApiError(
    'unknown_role',
    `No such role in Auth0: ${unknown.map((name) => `"${name}"`).join(', ')}`,
    unknown.map((role) => ({ field: `roles.${roles.indexOf(role)}`, message: 'is not a role in Auth0', role })),
  );
}

/** The HTTP status of a failed HubSpot call, if it got one (`@hubspot/api-client` errors carry it as `code`). */
const hubspotStatusOf = (err: unknown) => (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : undefined);

/**
 * Refuses CRM properties HubSpot's contacts do not have (`400 unknown_crm_property`, one detail
 * per name with its place in the invite's list), the way roles are checked, and answers `503
 * crm_properties_unavailable` with `Retry-After` when HubSpot cannot be asked: never a silent yes.
 * `fromDefault`: the request named none, so they are the tenant's HUBSPOT_TOKEN_PROPERTIES.
 */
async function checkCrmProperties(ctx: RouteContext, names: string[], fromDefault: boolean, request: FastifyRequest): Promise<void> {
  if (names.length === 0) return;
  if (!ctx.crmProperties) {
    throw new ApiError(
      'crm_properties_unavailable',
      'This service has no HubSpot access to check CRM properties (HUBSPOT_ACCESS_TOKEN), so nothing was started',
    );
  }
  let unknown: string[];
  try {
    unknown = await ctx.crmProperties.unknownProperties(names);
  } catch (err) {
    if (!(err instanceof CrmPropertiesUnavailableError)) throw err;
    request.log.warn({ retryAfterSeconds: err.retryAfterSeconds, hubspotStatus: hubspotStatusOf(err.cause) }, 'hubspot properties unavailable; invite refused');
    throw new ApiError(
      'crm_properties_unavailable',
      'The HubSpot contact properties cannot be checked right now, so nothing was started; retry later',
      undefined,
      { 'retry-after': String(err.retryAfterSeconds) },
    );
  }
  if (unknown.length === 0) return;
  const where = fromDefault ? ' (the default CRM properties, HUBSPOT_TOKEN_PROPERTIES)' : '';
  throw new ApiError(
    'unknown_crm_property',
    `No such contact property in HubSpot${where}: ${unknown.map((name) => `"${name}"`).join(', ')}`,
    unknown.map((property) => ({ field: `crmProperties.${names.indexOf(property)}`, message: 'is not a contact property in HubSpot', property })),
  );
}

/** Revokes the open invite of this id, if any, and waits for its run to close; true when it did. */
async function revokeOpen(gateway: InviteGateway, inviteId: string): Promise<boolean> {
  const existing = await gateway.existence(inviteId);
  if (!existing.exists || !existing.open) return false;
  try {
    await gateway.update(inviteId, (h) => h.executeUpdate(revokeUpdate, { args: [{ reason: 'replaced by a new invite' }] }));
  } catch (err) {
    // Closed or expired on its own in the meantime: nothing left to revoke.
    const gone = err instanceof WorkflowNotFoundError || (err instanceof ApiError && (err.code === 'invite_expired' || err.code === 'invite_revoked'));
    if (!gone) throw err;
  }
  await gateway.waitClosed(inviteId, existing.runId);
  return true;
}
