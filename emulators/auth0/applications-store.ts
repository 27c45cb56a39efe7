// The tenant's APIs (resource servers) and the bookkeeping behind the applications and
// client-grants routes. Applications and their grants stay in `Auth0Store`, where the token
// endpoint reads them, so a client created and granted through the Management API can ask for a
// client-credentials token at once, exactly as on a real tenant.
import { randomBytes } from 'node:crypto';
import { Auth0ApiError } from './store';
import type { AppType, Auth0ClientRegistration, Auth0Store, ClientGrant } from './store';

/** The Management API's own scopes the emulator knows (a subset of Auth0's list). */
export const MANAGEMENT_API_SCOPES = [
  'read:users',
  'create:users',
  'update:users',
  'delete:users',
  'read:users_app_metadata',
  'update:users_app_metadata',
  'read:roles',
  'create:roles',
  'update:roles',
  'delete:roles',
  'read:role_members',
  'create:role_members',
  'delete:role_members',
  'read:clients',
  'create:clients',
  'update:clients',
  'delete:clients',
  'read:client_keys',
  'read:client_grants',
  'create:client_grants',
  'update:client_grants',
  'delete:client_grants',
  'read:resource_servers',
  'create:resource_servers',
  'update:resource_servers',
  'delete:resource_servers',
  'read:actions',
  'create:actions',
  'update:actions',
  'delete:actions',
  'read:triggers',
  'update:triggers',
];

/** One permission an API defines. */
export interface ResourceServerScope {
  value: string;
  description?: string;
}

/** An API (resource server) in the Management API's wire shape. */
export interface StoredResourceServer {
  id: string;
  name: string;
  identifier: string;
  is_system: boolean;
  scopes: ResourceServerScope[];
  signing_alg: 'RS256' | 'HS256' | 'PS256';
  allow_offline_access: boolean;
  skip_consent_for_verifiable_first_party_clients: boolean;
  token_lifetime: number;
  token_lifetime_for_web: number;
  enforce_policies: boolean;
  token_dialect: 'access_token' | 'access_token_authz' | 'rfc9068_profile' | 'rfc9068_profile_authz';
}

/** Fields accepted when creating an API. */
export type NewResourceServer = Pick<StoredResourceServer, 'identifier'> &
  Partial<Omit<StoredResourceServer, 'id' | 'identifier' | 'is_system'>>;

/** A permission of a role: a scope an API defines (`POST /api/v2/roles/{id}/permissions`). */
export interface RolePermission {
  resource_server_identifier: string;
  permission_name: string;
}

/** A client grant in the Management API's wire shape. */
export interface ClientGrantView {
  id: string;
  client_id: string;
  audience: string;
  scope: string[];
}

/** Fields accepted when creating an application. */
export interface NewClient {
  name: string;
  description?: string;
  app_type?: AppType;
  grant_types?: string[];
  callbacks?: string[];
  allowed_logout_urls?: string[];
  allowed_origins?: string[];
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomId(length: number): string {
  return Array.from(randomBytes(length), (b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');
}

/** The APIs of one emulated tenant and the client-grant view of its applications. */
export class ApplicationsStore {
  readonly resourceServers = new Map<string, StoredResourceServer>();
  private readonly rolePermissions = new Map<string, RolePermission[]>();

  constructor(private readonly tenant: Auth0Store) {
    this.seed();
  }

  // Every tenant has the Management API as a system API; it cannot be created or changed.
  private seed(): void {
    this.resourceServers.clear();
    const id = randomBytes(12).toString('hex');
    this.resourceServers.set(id, {
      id,
      name: 'Auth0 Management API',
      identifier: this.tenant.managementAudience,
      is_system: true,
      scopes: MANAGEMENT_API_SCOPES.map((value) => ({ value, description: value })),
      signing_alg: 'RS256',
      allow_offline_access: false,
      skip_consent_for_verifiable_first_party_clients: false,
      token_lifetime: 86_400,
      token_lifetime_for_web: 7200,
      enforce_policies: false,
      token_dialect: 'access_token',
    });
  }

  /** Forgets every API but the Management API. */
  reset(): void {
    this.seed();
    this.rolePermissions.clear();
  }

  /** The API with this id or identifier (Auth0 accepts either in the path), or a 404. */
  requireResourceServer(idOrIdentifier: string): StoredResourceServer {
    const found = this.resourceServers.get(idOrIdentifier) ?? this.byIdentifier(idOrIdentifier);
    if (!found)
      throw new Auth0ApiError(404, 'inexistent_resource_server', 'The resource server does not exist');
    return found;
  }

  /** The API whose audience is `identifier`. */
  byIdentifier(identifier: string): StoredResourceServer | undefined {
    for (const rs of this.resourceServers.values()) if (rs.identifier === identifier) return rs;
    return undefined;
  }

  /** Creates an API; identifiers are unique, the Management API's included. */
  createResourceServer(input: NewResourceServer): StoredResourceServer {
    if (this.byIdentifier(input.identifier))
      throw new Auth0ApiError(409, 'conflict', 'A resource server with the same identifier already exists');
    const tokenLifetime = input.token_lifetime ?? 86_400;
    const rs: StoredResourceServer = {
      id: randomBytes(12).toString('hex'),
      name: input.name ?? input.identifier,
      identifier: input.identifier,
      is_system: false,
      scopes: input.scopes ?? [],
      signing_alg: input.signing_alg ?? 'RS256',
      allow_offline_access: input.allow_offline_access ?? false,
      skip_consent_for_verifiable_first_party_clients:
        input.skip_consent_for_verifiable_first_party_clients ?? true,
      token_lifetime: tokenLifetime,
      token_lifetime_for_web: Math.min(input.token_lifetime_for_web ?? 7200, tokenLifetime),
      enforce_policies: input.enforce_policies ?? false,
      token_dialect: input.token_dialect ?? 'access_token',
    };
    this.resourceServers.set(rs.id, rs);
    return rs;
  }

  /** Applies a PATCH; `scopes` replaces the whole list, as in Auth0. */
  updateResourceServer(
    idOrIdentifier: string,
    patch: Partial<Omit<StoredResourceServer, 'id' | 'identifier' | 'is_system'>>,
  ): StoredResourceServer {
    const rs = this.requireResourceServer(idOrIdentifier);
    if (rs.is_system)
      throw new Auth0ApiError(400, 'operation_not_supported', 'System resource servers cannot be modified');
    Object.assign(rs, patch);
    return rs;
  }

  /** Creates an application with a fresh id and secret. */
  createClient(input: NewClient): Auth0ClientRegistration {
    const client: Auth0ClientRegistration = {
      clientId: randomId(32),
      clientSecret: randomBytes(48).toString('base64url'),
      name: input.name,
      grants: [],
      createdAt: new Date().toISOString(),
      ...(input.app_type ? { appType: input.app_type } : {}),
      ...(input.grant_types ? { grantTypes: input.grant_types } : {}),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.callbacks ? { callbacks: input.callbacks } : {}),
      ...(input.allowed_logout_urls ? { allowedLogoutUrls: input.allowed_logout_urls } : {}),
      ...(input.allowed_origins ? { allowedOrigins: input.allowed_origins } : {}),
    };
    this.tenant.registerClient(client);
    return client;
  }

  /** Every application in registration order. */
  clientsInOrder(): Auth0ClientRegistration[] {
    return [...this.tenant.clients.values()];
  }

  /** The application or a 404. */
  requireClient(clientId: string): Auth0ClientRegistration {
    const client = this.tenant.clients.get(clientId);
    if (!client) throw new Auth0ApiError(404, 'inexistent_client', 'The client does not exist');
    return client;
  }

  /**
   * Every client grant in creation order. The emulator's `*` grants (dev shortcuts for "any API")
   * have no counterpart in Auth0 and are not shown.
   */
  clientGrants(): ClientGrantView[] {
    const out: ClientGrantView[] = [];
    for (const client of this.tenant.clients.values())
      for (const grant of client.grants)
        if (grant.audience !== '*')
          out.push({
            id: this.grantId(grant),
            client_id: client.clientId,
            audience: grant.audience,
            scope: [...grant.scopes],
          });
    return out;
  }

  /** Grants `client_id` the scopes on an existing API; one grant per client and API. */
  createClientGrant(input: { client_id: string; audience: string; scope: string[] }): ClientGrantView {
    const client = this.requireClient(input.client_id);
    const rs = this.byIdentifier(input.audience);
    if (!rs)
      throw new Auth0ApiError(
        404,
        'inexistent_resource_server',
        'No resource server found by specified identifier',
      );
    this.assertScopesDefined(rs, input.scope);
    if (client.grants.some((g) => g.audience === input.audience))
      throw new Auth0ApiError(409, 'conflict', 'A client grant for this client and audience already exists');
    const grant: ClientGrant = { audience: input.audience, scopes: [...new Set(input.scope)] };
    client.grants.push(grant);
    return {
      id: this.grantId(grant),
      client_id: client.clientId,
      audience: grant.audience,
      scope: [...grant.scopes],
    };
  }

  /** Replaces a grant's scopes. */
  updateClientGrant(id: string, scope: string[]): ClientGrantView {
    for (const client of this.tenant.clients.values()) {
      const grant = client.grants.find((g) => g.audience !== '*' && this.grantId(g) === id);
      if (!grant) continue;
      const rs = this.byIdentifier(grant.audience);
      if (rs) this.assertScopesDefined(rs, scope);
      grant.scopes = [...new Set(scope)];
      return { id, client_id: client.clientId, audience: grant.audience, scope: [...grant.scopes] };
    }
    throw new Auth0ApiError(404, 'inexistent_client_grant', 'The client grant does not exist');
  }

  // A grant can only hand out permissions its API defines; otherwise a typo would silently grant
  // nothing.
  private assertScopesDefined(rs: StoredResourceServer, scopes: string[]): void {
    const defined = new Set(rs.scopes.map((s) => s.value));
    const unknown = scopes.filter((s) => !defined.has(s));
    if (unknown.length > 0)
      throw new Auth0ApiError(
        400,
        'invalid_body',
        `Invalid scopes for the resource server ${rs.identifier}: ${unknown.join(', ')}`,
      );
  }

  private grantId(grant: ClientGrant): string {
    grant.id ??= `cgr_${randomId(16)}`;
    return grant.id;
  }
  /** Adds permissions to a role; each must be a scope its API defines, as Auth0 checks. */
  addRolePermissions(roleId: string, permissions: RolePermission[]): void {
    this.tenant.requireRole(roleId);
    for (const p of permissions) {
      const rs = this.byIdentifier(p.resource_server_identifier);
      if (!rs || !rs.scopes.some((s) => s.value === p.permission_name))
        throw new Auth0ApiError(
          400,
          'invalid_body',
          `Permission ${p.permission_name} is not defined on the resource server ${p.resource_server_identifier}`,
        );
    }
    const current = this.rolePermissions.get(roleId) ?? [];
    for (const p of permissions)
      if (
        !current.some(
          (c) =>
            c.resource_server_identifier === p.resource_server_identifier &&
            c.permission_name === p.permission_name,
        )
      )
        current.push({ ...p });
    this.rolePermissions.set(roleId, current);
  }

  /** The permissions of a role. */
  permissionsOfRole(roleId: string): RolePermission[] {
    this.tenant.requireRole(roleId);
    return (this.rolePermissions.get(roleId) ?? []).map((p) => ({ ...p }));
  }

  /** The user's permissions on the API `identifier`, through the user's roles (RBAC). */
  userPermissions(userId: string, identifier: string): string[] {
    const names = new Set<string>();
    for (const role of this.tenant.rolesOf(userId))
      for (const p of this.rolePermissions.get(role.id) ?? [])
        if (p.resource_server_identifier === identifier) names.add(p.permission_name);
    return [...names];
  }
}
