/**
 * The HTTP service, built by a factory from injected dependencies (a Temporal client, a link
 * verifier, an account check) so tests run it in-process against real servers. Routes are typed
 * with zod; the same schemas validate requests and produce the OpenAPI document.
 */
import { emailSearchKey } from '../client/codec';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import type { JWTVerifyGetKey } from 'jose';
import type { DestinationStream, LevelWithSilent } from 'pino';
import { createManagementClient } from '../services/auth0';
import { createRoleCatalogue } from '../services/auth0-roles';
import type { RoleCatalogue } from '../services/auth0-roles';
import { createHubSpotClient } from '../services/hubspot';
import { createCrmPropertyCatalogue } from '../services/hubspot-properties';
import type { CrmPropertyCatalogue } from '../services/hubspot-properties';
import { acceptedLanguages, chooseLocale } from '../lib/locale';
import type { LinkVerifier } from '../lib/token';
import { createActionAuth } from './action-auth';
import { createBearerAuth } from './auth';
import type { AppConfig, RouteContext } from './context';
import { ApiError, invalidRequest } from './errors';
import { createInviteGateway } from './invites-gateway';
import type { GatewayTimeouts } from './invites-gateway';
import { loggerOptions } from './logging';
import { createMetrics } from './metrics';
import type { ApiMetrics } from './metrics';
import { PAGE_HEADERS } from './pages/layout';
import { problemPage } from './pages/landing';
import { DEFAULT_INBOUND_LIMITS } from './inbound-limiter';
import type { InboundLimits } from './inbound-limiter';
import { registerClaimRoutes } from './routes/claims';
import { registerCodecRoutes } from './routes/codec';
import { registerEmailEventRoutes } from './routes/email-events';
import type { CodecRouteOptions } from './routes/codec';
import { registerHealthRoutes } from './routes/health';
import { registerInviteRoutes } from './routes/invites/index';
import { registerLandingRoutes } from './routes/landing/index';
import { registerRedemptionRoutes } from './routes/redemptions';

/** Largest request body; an invite's data is at most 8 kB of JSON. */
export const BODY_LIMIT_BYTES = 32 * 1024;

/** What `buildApp` needs; everything with a side effect is injected. */
export interface AppDeps {
  config: AppConfig;
  /** A connected Temporal client (namespace included). */
  temporal: Client;
  /** Verifies link tokens (`createLinkVerifier` over `LINK_VERIFICATION_KEYS`). */
  linkVerifier: LinkVerifier;
  /** Whether an Auth0 account exists for an email (`createAccountCheck`); may reject. */
  accountExists: (email: string) => Promise<boolean>;
  /**
   * The tenant's role names, checked when an invite is created; default: a copy read through the
   * Management API with the configured AUTH0_* application, at most AUTH0_ROLES_MAX_AGE old.
   */
  roles?: RoleCatalogue;
  /**
   * HubSpot's contact property names, checked when an invite binds CRM properties; default: a
   * copy read with the configured HUBSPOT_ACCESS_TOKEN, at most HUBSPOT_PROPERTIES_MAX_AGE old
   * (none without a token: invites naming CRM properties are then refused).
   */
  crmProperties?: CrmPropertyCatalogue;
  /** Keys for bearer tokens; default: the remote JWKS at `AUTH_JWKS_URL`. */
  bearerKeys?: JWTVerifyGetKey;
  /** Default `info`. */
  logLevel?: LevelWithSilent;
  /** Where log lines go; default stdout. */
  logStream?: DestinationStream;
  /** Trust X-Forwarded-For from a load balancer (rate limits then key on the real client). */
  trustProxy?: boolean;
  rateLimits?: Partial<InboundLimits>;
  timeouts?: Partial<GatewayTimeouts>;
  /** Default: a fresh registry. */
  metrics?: ApiMetrics;
  /** The payload codec endpoint for the Temporal UI; only when PAYLOAD_KEYS is set. */
  codec?: CodecRouteOptions;
}

/** Builds the Fastify app with every route registered; call `listen` or `inject` on it. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: loggerOptions(deps.logLevel ?? 'info', deps.logStream),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.trustProxy ?? false,
    // Link tokens are path parameters of several hundred characters (the verifier caps them at 2 kB).
    routerOptions: { maxParamLength: 4096 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  // JSON only (the link pages add form parsers in their own scope).
  app.removeContentTypeParser('text/plain');

  const ctx = routeContext(deps);
  app.addHook('onClose', () => ctx.gateway.drain());
  countRequests(app, ctx.metrics);
  answerErrors(app, config);
  await app.register(fastifyRateLimit, { global: false });
  await registerOpenApi(app, config);

  registerHealthRoutes(app, ctx);
  registerInviteRoutes(app, ctx);
  registerRedemptionRoutes(app, ctx);
  registerClaimRoutes(app, ctx);
  await registerEmailEventRoutes(app, ctx);
  await registerLandingRoutes(app, ctx);
  if (deps.codec) registerCodecRoutes(app, ctx, deps.codec);
  return app;
}

/** The configuration and shared services every route module receives. */
function routeContext(deps: AppDeps): RouteContext {
  const { config } = deps;
  return {
    config,
    gateway: createInviteGateway(deps.temporal, {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      emailKey: emailSearchKey(config),
      ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
    }),
    bearer: createBearerAuth({
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
      jwksUrl: config.AUTH_JWKS_URL,
      ...(deps.bearerKeys ? { keys: deps.bearerKeys } : {}),
    }),
    action: createActionAuth({ secret: config.ACTION_SECRET }),
    linkVerifier: deps.linkVerifier,
    accountExists: deps.accountExists,
    roles: deps.roles ?? defaultRoleCatalogue(config),
    crmProperties: deps.crmProperties ?? defaultCrmPropertyCatalogue(config),
    metrics: deps.metrics ?? createMetrics(),
    limits: { ...DEFAULT_INBOUND_LIMITS, ...deps.rateLimits },
  };
}

/** Counts and times every response by route. */
function countRequests(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status_code: String(reply.statusCode) });
    metrics.httpSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}

/** Errors and unknown routes answer the JSON error body, or a page on the link pages' paths. */
function answerErrors(app: FastifyInstance, config: AppConfig): void {
  function sendError(error: ApiError, request: FastifyRequest, reply: FastifyReply) {
    // Page routes answer people, not programs: a page, never JSON or a stack.
    if (isPagePath(request.url)) {
      const problem = error.statusCode === 429 ? 'rate_limited' : error.statusCode >= 500 ? 'unavailable' : error.statusCode === 404 ? 'not_found' : 'invalid';
      return reply
        .code(error.statusCode)
        .headers({ ...PAGE_HEADERS, ...error.headers })
        .send(problemPage(problem, { locale: chooseLocale(acceptedLanguages(request.headers['accept-language'])), appName: config.APP_NAME }));
    }
    return reply.code(error.statusCode).headers(error.headers).send(error.body());
  }
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(toApiError(err, request), request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new ApiError('not_found', `No route for ${request.method} ${isPagePath(request.url) ? '/i/…' : request.url.split('?')[0]}`), request, reply),
  );
}

/** The OpenAPI document (`/openapi.json`), generated from the routes' schemas, and its page (`/docs`). */
async function registerOpenApi(app: FastifyInstance, config: AppConfig): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'inviteflow',
        description: 'Invites people into the application by email; every invite is a Temporal workflow.',
        version: '1.0.0',
      },
      servers: [{ url: config.PUBLIC_BASE_URL }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: `OAuth2 access token from ${config.AUTH_ISSUER} for audience ${config.AUTH_AUDIENCE}, with invites:* scopes`,
          },
          actionToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'HS256 JWT signed with ACTION_SECRET: iss inviteflow-action, aud inviteflow-redemptions, jti, exp ≤ iat + 5 min',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { summary: 'This OpenAPI document', tags: ['operations'] } }, () => app.swagger());
}

/** The role catalogue over the configured Auth0 application. */
function defaultRoleCatalogue(config: AppConfig): RoleCatalogue {
  const management = createManagementClient({
    domain: config.AUTH0_DOMAIN,
    clientId: config.AUTH0_CLIENT_ID,
    clientSecret: config.AUTH0_CLIENT_SECRET,
    endpoint: config.AUTH0_MANAGEMENT_ENDPOINT,
    // A creation waits for the listing; Auth0 answers in well under a second.
    timeoutSeconds: 5,
  });
  return createRoleCatalogue({ management, maxAgeMs: config.AUTH0_ROLES_MAX_AGE });
}

/** The CRM property catalogue over the configured HubSpot private app, when there is one. */
export function defaultCrmPropertyCatalogue(
  config: Pick<AppConfig, 'HUBSPOT_ACCESS_TOKEN' | 'HUBSPOT_BASE_PATH' | 'HUBSPOT_PROPERTIES_MAX_AGE'>,
): CrmPropertyCatalogue | undefined {
  if (!config.HUBSPOT_ACCESS_TOKEN) return undefined;
  const hubspot = createHubSpotClient({ accessToken: config.HUBSPOT_ACCESS_TOKEN, basePath: config.HUBSPOT_BASE_PATH });
  return createCrmPropertyCatalogue({ properties: hubspot.crm.properties.coreApi, maxAgeMs: config.HUBSPOT_PROPERTIES_MAX_AGE });
}

function isPagePath(url: string): boolean {
  return url.startsWith('/i/');
}

/** The API error for anything a route or Fastify threw; unexpected errors are logged, not shown. */
function toApiError(err: FastifyError, request: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext === 'querystring' ? 'query' : err.validationContext;
    return invalidRequest(
      err.validation.map((v) => {
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return { field: where === 'body' ? path || '(body)' : [where, path].filter(Boolean).join('.'), message: v.message ?? 'is invalid' };
      }),
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', `The body is larger than ${BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type', 'This content type is not accepted here');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest([{ field: '(body)', message: 'must not be empty when Content-Type is application/json' }]);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    // Fastify's own 4xx (unparsable JSON, a bad URL…): the message says what, never a stack.
    return new ApiError('invalid_request', err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'The body is not valid JSON' : 'The request is invalid');
  }
  request.log.error({ err }, 'request failed');
  return new ApiError('internal_error', 'Something went wrong on our side');
}
