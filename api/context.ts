/** What every route module receives from `buildApp`: the configuration and the shared services. */
import type { RoleCatalogue } from '../services/auth0-roles';
import type { CrmPropertyCatalogue } from '../services/hubspot-properties';
import type { ApiConfig } from '../lib/config';
import type { LinkVerifier } from '../lib/token';
import type { BearerAuth, Principal } from './auth';
import type { ActionAuth } from './action-auth';
import type { InviteGateway } from './invites-gateway';
import type { ApiMetrics } from './metrics';
import type { InboundLimits } from './inbound-limiter';

/** The configuration values the app itself reads. */
export type AppConfig = Pick<
  ApiConfig,
  | 'PUBLIC_BASE_URL'
  | 'TEMPORAL_TASK_QUEUE'
  | 'INVITE_ID_KEY'
  | 'ACTION_SECRET'
  | 'AUTH_ISSUER'
  | 'AUTH_AUDIENCE'
  | 'AUTH_JWKS_URL'
  | 'APP_LOGIN_URL'
  | 'APP_NAME'
  | 'EMAIL_EVENTS_SECRET'
  | 'CLAIM_BY_EMAIL_SCOPES'
  | 'MAILGUN_WEBHOOK_SIGNING_KEY'
  | 'AUTH0_DOMAIN'
  | 'AUTH0_CLIENT_ID'
  | 'AUTH0_CLIENT_SECRET'
  | 'AUTH0_MANAGEMENT_ENDPOINT'
  | 'AUTH0_ROLES_MAX_AGE'
  | 'ACCOUNT_POLICY'
  | 'HUBSPOT_TOKEN_PROPERTIES'
  | 'HUBSPOT_ACCESS_TOKEN'
  | 'HUBSPOT_BASE_PATH'
  | 'HUBSPOT_PROPERTIES_MAX_AGE'
>;

/** Shared services of the route modules. */
export interface RouteContext {
  config: AppConfig;
  gateway: InviteGateway;
  bearer: BearerAuth;
  action: ActionAuth;
  linkVerifier: LinkVerifier;
  accountExists: (email: string) => Promise<boolean>;
  /** The tenant's role names, to refuse unknown roles at creation. */
  roles: RoleCatalogue;
  /** HubSpot's contact property names, to refuse unknown CRM properties at creation; absent without HubSpot settings. */
  crmProperties: CrmPropertyCatalogue | undefined;
  metrics: ApiMetrics;
  limits: InboundLimits;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller of a bearer-authenticated route, set by its `onRequest` hook. */
    principal: Principal | null;
  }
}
