// The Management API's applications, APIs and client-grants routes the tenant setup script uses,
// in Auth0's wire shapes: `client_secret` only in the create answer and to tokens holding
// `read:client_keys`; offset pagination for clients and APIs, checkpoint pagination (`from`,
// `take`, `next`) for client grants; 409 on a duplicate API identifier or client grant.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApplicationsStore, ClientGrantView, StoredResourceServer } from './applications-store';
import { hasScope, paginate, parseBody, requireScope, selectFields } from './management';
import { grantTypesOf, isPublicClient } from './store';
import type { Auth0ClientRegistration } from './store';

const scope = z.strictObject({ value: z.string().min(1), description: z.string().optional() });
const signingAlg = z.enum(['RS256', 'HS256', 'PS256']);
const tokenDialect = z.enum([
  'access_token',
  'access_token_authz',
  'rfc9068_profile',
  'rfc9068_profile_authz',
]);
const name = z
  .string()
  .min(1)
  .regex(/^[^<>]*$/, 'must not contain < or >');

const createResourceServerBody = z.strictObject({
  name: name.optional(),
  identifier: z.string().min(1),
  scopes: z.array(scope).optional(),
  signing_alg: signingAlg.optional(),
  signing_secret: z.string().min(16).optional(),
  allow_offline_access: z.boolean().optional(),
  token_lifetime: z.number().int().min(0).max(2_592_000).optional(),
  token_dialect: tokenDialect.optional(),
  skip_consent_for_verifiable_first_party_clients: z.boolean().optional(),
  enforce_policies: z.boolean().optional(),
});

const updateResourceServerBody = createResourceServerBody.omit({ identifier: true }).extend({
  token_lifetime_for_web: z.number().int().min(0).optional(),
});

const listResourceServersQuery = z.object({
  identifiers: z.union([z.string(), z.array(z.string())]).optional(),
});

const createClientBody = z.strictObject({
  name,
  description: z.string().max(140).optional(),
  app_type: z.enum(['non_interactive', 'spa', 'regular_web']).optional(),
  grant_types: z.array(z.string().min(1)).optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_post', 'client_secret_basic']).optional(),
  callbacks: z.array(z.string()).optional(),
  allowed_logout_urls: z.array(z.string()).optional(),
  allowed_origins: z.array(z.string()).optional(),
  is_first_party: z.boolean().optional(),
  oidc_conformant: z.boolean().optional(),
});

const createClientGrantBody = z.strictObject({
  client_id: z.string().min(1),
  audience: z.string().min(1),
  scope: z.array(z.string().min(1)).default([]),
});

const updateClientGrantBody = z.strictObject({ scope: z.array(z.string().min(1)) });

const listClientGrantsQuery = z.object({
  audience: z.string().optional(),
  client_id: z.string().optional(),
  from: z.string().optional(),
  take: z.coerce.number().int().min(1).max(100).optional(),
  per_page: z.coerce.number().int().min(1).max(100).optional(),
  page: z.coerce.number().int().min(0).optional(),
  include_totals: z.enum(['true', 'false']).optional(),
});

function clientOut(
  tenant: string,
  client: Auth0ClientRegistration,
  withSecret: boolean,
): Record<string, unknown> {
  const isPublic = isPublicClient(client);
  return {
    tenant,
    global: false,
    is_token_endpoint_ip_header_trusted: false,
    name: client.name ?? client.clientId,
    ...(client.description === undefined ? {} : { description: client.description }),
    client_id: client.clientId,
    ...(withSecret && !isPublic ? { client_secret: client.clientSecret } : {}),
    app_type: client.appType ?? 'non_interactive',
    is_first_party: true,
    oidc_conformant: true,
    callbacks: client.callbacks ?? [],
    allowed_origins: client.allowedOrigins ?? [],
    web_origins: [],
    allowed_logout_urls: client.allowedLogoutUrls ?? [],
    grant_types: grantTypesOf(client),
    token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_post',
    jwt_configuration: { alg: 'RS256', lifetime_in_seconds: 36_000, secret_encoded: false },
    sso_disabled: false,
    cross_origin_authentication: false,
    custom_login_page_on: true,
    ...(client.createdAt === undefined ? {} : { created_at: client.createdAt, updated_at: client.createdAt }),
  };
}

// Auth0 lists its "All Applications" settings object among the clients; scripts that match
// applications by name must cope with it.
function globalClientOut(tenant: string): Record<string, unknown> {
  return {
    tenant,
    global: true,
    name: 'All Applications',
    client_id: `global-${tenant.replace(/[^a-z0-9]/gi, '')}`.slice(0, 32),
    is_first_party: true,
    oidc_conformant: false,
    callbacks: [],
    allowed_origins: [],
    allowed_logout_urls: [],
    grant_types: [],
    custom_login_page_on: true,
  };
}

function resourceServerOut(rs: StoredResourceServer): Record<string, unknown> {
  return { ...rs, scopes: rs.scopes.map((s) => ({ ...s })) };
}

// Checkpoint pagination: `from` is the id of the first grant of the page, `next` that of the
// following page; offset pagination answers like every other list.
function pageOfGrants(
  grants: ClientGrantView[],
  query: z.infer<typeof listClientGrantsQuery>,
  raw: unknown,
): unknown {
  if (query.from === undefined && query.take === undefined) return paginate(grants, raw, 'client_grants');
  const start = query.from === undefined ? 0 : grants.findIndex((g) => g.id === query.from);
  if (start < 0) return { client_grants: [] };
  const take = query.take ?? 50;
  const page = grants.slice(start, start + take);
  const next = grants[start + take];
  return { client_grants: page, ...(next ? { next: next.id } : {}) };
}

/** Registers `/resource-servers…`, `/clients…` and `/client-grants…` on the Management API. */
export function registerApplicationRoutes(
  api: FastifyInstance,
  opts: { applications: ApplicationsStore; tenantName: string },
): void {
  const { applications, tenantName } = opts;

  const permissionsBody = z.strictObject({
    permissions: z
      .array(
        z.strictObject({
          resource_server_identifier: z.string().min(1),
          permission_name: z.string().min(1),
        }),
      )
      .min(1),
  });

  api.post<{ Params: { id: string } }>('/roles/:id/permissions', async (request, reply) => {
    requireScope(request, ['update:roles']);
    const { permissions } = parseBody(permissionsBody, request.body);
    applications.addRolePermissions(request.params.id, permissions);
    return reply.code(201).send();
  });

  api.get<{ Params: { id: string } }>('/roles/:id/permissions', (request) => {
    requireScope(request, ['read:roles']);
    const rs = (identifier: string) => applications.byIdentifier(identifier);
    const permissions = applications.permissionsOfRole(request.params.id).map((p) => ({
      ...p,
      resource_server_name: rs(p.resource_server_identifier)?.name ?? p.resource_server_identifier,
      description:
        rs(p.resource_server_identifier)?.scopes.find((s) => s.value === p.permission_name)?.description ??
        '',
    }));
    return paginate(permissions, request.query, 'permissions');
  });

  api.get('/resource-servers', (request) => {
    requireScope(request, ['read:resource_servers']);
    const { identifiers } = parseBody(listResourceServersQuery, request.query ?? {}, 'Query');
    const wanted = identifiers === undefined ? undefined : new Set([identifiers].flat());
    const all = [...applications.resourceServers.values()].filter(
      (rs) => !wanted || wanted.has(rs.identifier),
    );
    return paginate(all.map(resourceServerOut), request.query, 'resource_servers');
  });

  api.get<{ Params: { id: string } }>('/resource-servers/:id', (request) => {
    requireScope(request, ['read:resource_servers']);
    return resourceServerOut(applications.requireResourceServer(request.params.id));
  });

  api.post('/resource-servers', async (request, reply) => {
    requireScope(request, ['create:resource_servers']);
    const { signing_secret: _secret, ...body } = parseBody(createResourceServerBody, request.body);
    return reply.code(201).send(resourceServerOut(applications.createResourceServer(body)));
  });

  api.patch<{ Params: { id: string } }>('/resource-servers/:id', (request) => {
    requireScope(request, ['update:resource_servers']);
    const { signing_secret: _secret, ...body } = parseBody(updateResourceServerBody, request.body);
    return resourceServerOut(applications.updateResourceServer(request.params.id, body));
  });

  api.get('/clients', (request) => {
    requireScope(request, ['read:clients', 'read:client_keys']);
    const withSecrets = hasScope(request, 'read:client_keys');
    const all = [
      globalClientOut(tenantName),
      ...[...applications.clientsInOrder()].map((c) => clientOut(tenantName, c, withSecrets)),
    ].map((c) => selectFields(c, request.query));
    return paginate(all, request.query, 'clients');
  });

  api.get<{ Params: { id: string } }>('/clients/:id', (request) => {
    requireScope(request, ['read:clients', 'read:client_keys']);
    const client = applications.requireClient(request.params.id);
    return selectFields(clientOut(tenantName, client, hasScope(request, 'read:client_keys')), request.query);
  });

  api.post('/clients', async (request, reply) => {
    requireScope(request, ['create:clients']);
    const body = parseBody(createClientBody, request.body);
    const client = applications.createClient(body);
    // The only answer that always carries the secret: the caller must keep it now.
    return reply.code(201).send(clientOut(tenantName, client, true));
  });

  api.get('/client-grants', (request) => {
    requireScope(request, ['read:client_grants']);
    const query = parseBody(listClientGrantsQuery, request.query ?? {}, 'Query');
    const grants = applications
      .clientGrants()
      .filter(
        (g) =>
          (query.audience === undefined || g.audience === query.audience) &&
          (query.client_id === undefined || g.client_id === query.client_id),
      );
    return pageOfGrants(grants, query, request.query);
  });

  api.post('/client-grants', async (request, reply) => {
    requireScope(request, ['create:client_grants']);
    const body = parseBody(createClientGrantBody, request.body);
    return reply.code(201).send(applications.createClientGrant(body));
  });

  api.patch<{ Params: { id: string } }>('/client-grants/:id', (request) => {
    requireScope(request, ['update:client_grants']);
    const { scope: scopes } = parseBody(updateClientGrantBody, request.body);
    return applications.updateClientGrant(request.params.id, scopes);
  });
}
