// The emulated tenant: its signing key, registered applications, connections, users and roles.
// Route modules (the Management API, `/authorize` and the login pages, the token endpoint) share
// one store per emulator instance, so several emulators can run side by side in one test process.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { generateSigningKey } from './tokens';
import type { SigningKey } from './tokens';

/** The database connection every tenant starts with. */
export const DEFAULT_CONNECTION = 'Username-Password-Authentication';

/** Scopes the default application gets on the Management API. */
export const DEFAULT_MANAGEMENT_SCOPES = [
  'read:users',
  'update:users',
  'read:roles',
  'create:roles',
  'read:role_members',
  'create:role_members',
];

/** Scopes the default application gets on any other API (ours). */
export const DEFAULT_API_SCOPES = ['invites:create', 'invites:read', 'invites:write'];

/** Scopes of the deploy application (`inviteflow-deploy`), which manages Actions and their bindings. */
export const DEFAULT_DEPLOY_SCOPES = [
  'read:actions',
  'create:actions',
  'update:actions',
  'read:triggers',
  'update:triggers',
];

/** The single-page application every tenant starts with; a public client (no secret, PKCE). */
export const DEFAULT_SPA_CLIENT_ID = 'inviteflow-spa';

/** The default SPA's name when none is configured (the product's default `APP_NAME`). */
export const DEFAULT_SPA_NAME = 'Acme';

/** Callback URLs of the default SPA when none are configured. */
export const DEFAULT_SPA_CALLBACKS = ['http://localhost:3000/callback', 'http://127.0.0.1:3000/callback'];

/** The social connections of the login page; their users always have a verified email. */
export const SOCIAL_CONNECTIONS = ['google-oauth2', 'facebook'] as const;

/** A social connection name. */
export type SocialConnection = (typeof SOCIAL_CONNECTIONS)[number];

/** A connection as Actions see it in `event.connection`. */
export interface ConnectionInfo {
  id: string;
  name: string;
  strategy: string;
}

/** What an application may ask a token for; audience `*` stands for every API not listed. */
export interface ClientGrant {
  audience: string;
  scopes: string[];
  /** `cgr_…`, given the first time the client-grants API shows the grant. */
  id?: string;
}

/** Auth0's application types; they decide the grant types a client may use. */
export type AppType = 'non_interactive' | 'spa' | 'regular_web';

/** An application registered in the tenant. */
export interface Auth0ClientRegistration {
  clientId: string;
  /** Ignored for public clients (`spa`), which authenticate with PKCE instead. */
  clientSecret: string;
  name?: string;
  /** Client grants for `client_credentials` (machine-to-machine applications). */
  grants: ClientGrant[];
  /** Default `non_interactive` (machine-to-machine). */
  appType?: AppType;
  /** Allowed Callback URLs, compared exactly with `redirect_uri`. */
  callbacks?: string[];
  /** Allowed Logout URLs for `/v2/logout?returnTo=`. */
  allowedLogoutUrls?: string[];
  /** Allowed Origins (CORS) besides the callback URLs' origins, which Auth0 allows by default. */
  allowedOrigins?: string[];
  /** Grant types set explicitly (`POST /api/v2/clients`); default: those of `appType`. */
  grantTypes?: string[];
  description?: string;
  /** ISO 8601, for applications created through the Management API. */
  createdAt?: string;
}

/** Grant types the application may use: its own list, or what Auth0 sets for its type. */
export function grantTypesOf(client: Auth0ClientRegistration): string[] {
  if (client.grantTypes) return client.grantTypes;
  switch (client.appType ?? 'non_interactive') {
    case 'spa':
      return ['authorization_code', 'refresh_token'];
    case 'regular_web':
      return ['authorization_code', 'refresh_token', 'client_credentials'];
    case 'non_interactive':
      return ['client_credentials'];
  }
}

/** Whether the client is public: it has no secret to keep, so the token endpoint takes none. */
export function isPublicClient(client: Auth0ClientRegistration): boolean {
  return client.appType === 'spa';
}

/** A user as the emulator keeps it; `toApiUser` gives the wire shape. */
export interface StoredUser {
  user_id: string;
  email: string;
  email_verified: boolean;
  connection: string;
  name: string;
  nickname: string;
  picture: string;
  given_name?: string;
  family_name?: string;
  username?: string;
  blocked: boolean;
  created_at: string;
  updated_at: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  /** Role ids in assignment order; Auth0 never holds a role twice. */
  roleIds: string[];
  passwordHash?: string;
  logins_count: number;
  last_login?: string;
  last_ip?: string;
  /**
   * Identities linked into this user (account linking), in linking order. The user's own identity
   * (from `user_id` and `connection`) is not listed here; `toApiUser` puts it first.
   */
  linked: LinkedIdentity[];
}

/** The profile a linked identity keeps, as Auth0 shows it in `identities[].profileData`. */
export type ProfileData = Pick<
  StoredUser,
  'email' | 'email_verified' | 'name' | 'nickname' | 'picture' | 'given_name' | 'family_name' | 'username'
>;

/** An identity that was linked into another user: it is no longer a user of its own. */
export interface LinkedIdentity {
  /** `auth0`, `google-oauth2`, `facebook`. */
  provider: string;
  /** The id without the provider prefix (`63d17c6b…`, not `auth0|63d17c6b…`). */
  user_id: string;
  connection: string;
  isSocial: boolean;
  profileData: ProfileData;
  /** A database identity keeps its password, so it still logs in (as the user it was linked into). */
  passwordHash?: string;
}

/** Which identity authenticated a login: the connection used and that identity's id. */
export interface IdentityRef {
  provider: string;
  /** Without the provider prefix. */
  user_id: string;
  connection: string;
}

/** An identity found for a login, with the user it belongs to (itself, or the user it was linked into). */
export interface FoundIdentity {
  user: StoredUser;
  identity: IdentityRef;
  passwordHash?: string;
}

/** A user's wire identity, `profileData` only on the linked ones (as `GET /api/v2/users/{id}` shows). */
export interface ApiIdentity {
  connection: string;
  user_id: string;
  provider: string;
  isSocial: boolean;
  profileData?: ProfileData;
}

/** A tenant role. */
export interface StoredRole {
  id: string;
  name: string;
  description: string;
}

/** Fields accepted when creating a user (API body or test helper). */
export interface NewUser {
  email: string;
  connection?: string;
  password?: string;
  email_verified?: boolean;
  user_id?: string;
  name?: string;
  nickname?: string;
  given_name?: string;
  family_name?: string;
  username?: string;
  picture?: string;
  blocked?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

/** Fields accepted by `PATCH /api/v2/users/{id}`; `null` clears a string field. */
export interface UserPatch {
  email?: string | null;
  email_verified?: boolean;
  blocked?: boolean;
  name?: string | null;
  nickname?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  username?: string | null;
  picture?: string | null;
  password?: string | null;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

/** An error the Management API answers as `{statusCode, error, message, errorCode}`. */
export class Auth0ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'Auth0ApiError';
  }
}

/**
 * Auth0 merges metadata at the top level only: a key set to `null` is removed, any other value
 * (objects included) replaces the old one, and an empty object clears all metadata.
 */
export function mergeMetadata(
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  if (Object.keys(patch).length === 0) return {};
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('base64')}:${scryptSync(password, salt, 32).toString('base64')}`;
}

function randomDigits(length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b, i) => (i === 0 ? 1 + (b % 9) : b % 10)).join('');
}

/** `google-oauth2` for `google-oauth2|1234`; `auth0` for database users. */
export function providerOf(user: Pick<StoredUser, 'user_id'>): string {
  return user.user_id.slice(0, user.user_id.indexOf('|'));
}

/** The user's own identity: its provider, its id without the prefix, its connection. */
export function ownIdentity(user: Pick<StoredUser, 'user_id' | 'connection'>): IdentityRef {
  return {
    provider: providerOf(user),
    user_id: user.user_id.slice(user.user_id.indexOf('|') + 1),
    connection: user.connection,
  };
}

/** Whether the user holds the identity, as its own or as a linked one. */
export function holdsIdentity(user: StoredUser, identity: IdentityRef): boolean {
  const own = ownIdentity(user);
  const same = (a: IdentityRef) => a.provider === identity.provider && a.user_id === identity.user_id;
  return same(own) || user.linked.some(same);
}

/** The name fields Auth0 leaves out of a user or a profile until they are set. */
type OptionalNames = Pick<StoredUser, 'given_name' | 'family_name' | 'username'>;

/** The optional name fields that are set in `from`, and only those. */
function optionalNames(from: OptionalNames): OptionalNames {
  const names: OptionalNames = {};
  if (from.given_name !== undefined) names.given_name = from.given_name;
  if (from.family_name !== undefined) names.family_name = from.family_name;
  if (from.username !== undefined) names.username = from.username;
  return names;
}

function profileOf(user: StoredUser): ProfileData {
  return {
    email: user.email,
    email_verified: user.email_verified,
    name: user.name,
    nickname: user.nickname,
    picture: user.picture,
    ...optionalNames(user),
  };
}

/** What a new user is made of; everything else starts empty. */
type UserFields = Pick<StoredUser, 'user_id' | 'connection'> &
  ProfileData &
  Partial<Pick<StoredUser, 'blocked' | 'app_metadata' | 'user_metadata'>>;

/** A user created now, as Auth0 starts one: not blocked and without metadata unless given; no roles, logins or linked identities. */
function freshUser(fields: UserFields): StoredUser {
  const now = new Date().toISOString();
  return {
    blocked: false,
    app_metadata: {},
    user_metadata: {},
    ...fields,
    created_at: now,
    updated_at: now,
    roleIds: [],
    logins_count: 0,
    linked: [],
  };
}

function gravatar(email: string): string {
  const digest = createHash('md5').update(email).digest('hex');
  return `https://s.gravatar.com/avatar/${digest}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F${encodeURIComponent(email.slice(0, 2))}.png`;
}

const ROLE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function roleId(): string {
  const bytes = randomBytes(16);
  return `rol_${Array.from(bytes, (b) => ROLE_ID_ALPHABET[b % ROLE_ID_ALPHABET.length]).join('')}`;
}

/** The state of one emulated tenant. */
export class Auth0Store {
  /** `https://<domain>/`, the `iss` of every token. */
  readonly issuer: string;
  /** `https://<domain>/api/v2/`, the audience of Management API tokens. */
  readonly managementAudience: string;
  readonly users = new Map<string, StoredUser>();
  readonly roles = new Map<string, StoredRole>();
  readonly clients = new Map<string, Auth0ClientRegistration>();
  readonly connections = new Set<string>([DEFAULT_CONNECTION]);
  private readonly connectionIds = new Map<string, string>();

  constructor(
    readonly domain: string,
    readonly key: SigningKey,
    private readonly initialClients: Auth0ClientRegistration[],
    private readonly spa: Pick<
      Auth0ClientRegistration,
      'name' | 'callbacks' | 'allowedLogoutUrls' | 'allowedOrigins'
    > = {},
  ) {
    this.issuer = `https://${domain}/`;
    this.managementAudience = `https://${domain}/api/v2/`;
    this.seedClients();
  }

  /** The connection as `event.connection` shows it; ids are stable for the emulator's life. */
  connectionInfo(name: string): ConnectionInfo {
    let id = this.connectionIds.get(name);
    if (!id) {
      id = `con_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
      this.connectionIds.set(name, id);
    }
    const strategy = name === DEFAULT_CONNECTION ? 'auth0' : name;
    return { id, name, strategy };
  }

  /** The dev application every tenant starts with (`inviteflow-m2m`). */
  defaultClient(): Auth0ClientRegistration {
    return {
      clientId: 'inviteflow-m2m',
      clientSecret: 'inviteflow-m2m-secret',
      name: 'inviteflow (M2M)',
      grants: [
        { audience: this.managementAudience, scopes: DEFAULT_MANAGEMENT_SCOPES },
        { audience: '*', scopes: DEFAULT_API_SCOPES },
      ],
    };
  }

  /** The deploy application every tenant starts with (`inviteflow-deploy`), for Actions. */
  deployClient(): Auth0ClientRegistration {
    return {
      clientId: 'inviteflow-deploy',
      clientSecret: 'inviteflow-deploy-secret',
      name: 'inviteflow (Action deploy)',
      grants: [{ audience: this.managementAudience, scopes: DEFAULT_DEPLOY_SCOPES }],
    };
  }

  /** The single-page application every tenant starts with (`inviteflow-spa`). */
  spaClient(): Auth0ClientRegistration {
    const callbacks = this.spa.callbacks ?? DEFAULT_SPA_CALLBACKS;
    return {
      clientId: DEFAULT_SPA_CLIENT_ID,
      clientSecret: randomBytes(32).toString('base64url'),
      // What Universal Login shows the person; the tenant setup names it after the product.
      name: this.spa.name ?? DEFAULT_SPA_NAME,
      appType: 'spa',
      grants: [],
      callbacks,
      allowedLogoutUrls: this.spa.allowedLogoutUrls ?? callbacks.map((c) => new URL(c).origin),
      allowedOrigins: this.spa.allowedOrigins ?? [],
    };
  }

  private seedClients(): void {
    this.clients.clear();
    for (const client of [
      this.defaultClient(),
      this.deployClient(),
      this.spaClient(),
      ...this.initialClients,
    ])
      this.clients.set(client.clientId, client);
  }

  /** Adds or replaces an application. */
  registerClient(client: Auth0ClientRegistration): void {
    this.clients.set(client.clientId, client);
  }

  /**
   * The application when id and secret match, compared in constant time. A public client is
   * identified by its id alone when no secret is sent; PKCE then proves the caller.
   */
  authenticateClient(clientId: string, clientSecret: string): Auth0ClientRegistration | undefined {
    const client = this.clients.get(clientId);
    if (!client) return undefined;
    if (isPublicClient(client) && clientSecret === '') return client;
    const expected = Buffer.from(client.clientSecret);
    const given = Buffer.from(clientSecret);
    return expected.length === given.length && timingSafeEqual(expected, given) ? client : undefined;
  }

  /** The grant that lets `client` ask for `audience`, an exact match before the `*` grant. */
  grantFor(client: Auth0ClientRegistration, audience: string): ClientGrant | undefined {
    return (
      client.grants.find((g) => g.audience === audience) ??
      (audience === this.managementAudience ? undefined : client.grants.find((g) => g.audience === '*'))
    );
  }

  /** Creates a user like `POST /api/v2/users`; emails are stored lower-case as Auth0 does. */
  createUser(input: NewUser): StoredUser {
    const connection = input.connection ?? DEFAULT_CONNECTION;
    if (!this.connections.has(connection))
      throw new Auth0ApiError(400, 'inexistent_connection', 'The connection does not exist.');
    const email = input.email.trim().toLowerCase();
    // A database identity linked into another user still owns its address on its connection.
    if (this.findIdentity(connection, email))
      throw new Auth0ApiError(409, 'auth0_idp_error', 'The user already exists.');
    const userId =
      input.user_id === undefined
        ? `auth0|${randomBytes(12).toString('hex')}`
        : input.user_id.startsWith('auth0|')
          ? input.user_id
          : `auth0|${input.user_id}`;
    if (this.users.has(userId) || this.linkedInto(userId))
      throw new Auth0ApiError(409, 'auth0_idp_error', 'The user already exists.');
    const user = freshUser({
      user_id: userId,
      email,
      email_verified: input.email_verified ?? false,
      connection,
      name: input.name ?? email,
      nickname: input.nickname ?? email.split('@')[0] ?? email,
      picture: input.picture ?? gravatar(email),
      blocked: input.blocked ?? false,
      app_metadata: input.app_metadata ? mergeMetadata({}, input.app_metadata) : {},
      user_metadata: input.user_metadata ? mergeMetadata({}, input.user_metadata) : {},
      ...optionalNames(input),
    });
    if (input.password !== undefined) user.passwordHash = hashPassword(input.password);
    this.users.set(userId, user);
    return user;
  }

  /**
   * The identity a social identity provider vouched for, with its user: found by email on that
   * connection (an identity linked into another user belongs to that user), or created as a new
   * user with a provider-style id (`google-oauth2|<digits>`) and, as the provider verified it, a
   * verified email.
   */
  socialLogin(connection: SocialConnection, profile: { email: string; name?: string }): FoundIdentity {
    const email = profile.email.trim().toLowerCase();
    const existing = this.findIdentity(connection, email);
    if (existing) return existing;
    const user = this.createSocialUser(connection, email, profile.name);
    return { user, identity: ownIdentity(user) };
  }

  /** The user of a social login (see `socialLogin`), for callers that only need the user. */
  socialUser(connection: SocialConnection, profile: { email: string; name?: string }): StoredUser {
    return this.socialLogin(connection, profile).user;
  }

  private createSocialUser(connection: SocialConnection, email: string, fullName?: string): StoredUser {
    const name = fullName?.trim() || email;
    const [given, ...family] = name.includes('@') ? [] : name.split(/\s+/);
    const user = freshUser({
      user_id: `${connection}|${randomDigits(connection === 'google-oauth2' ? 21 : 16)}`,
      email,
      email_verified: true,
      connection,
      name,
      nickname: email.split('@')[0] ?? email,
      picture: gravatar(email),
    });
    if (given) user.given_name = given;
    if (family.length > 0) user.family_name = family.join(' ');
    this.users.set(user.user_id, user);
    return user;
  }

  /** Records a successful authentication, as Auth0 does before post-login Actions run. */
  recordLogin(user: StoredUser, ip: string): void {
    user.logins_count += 1;
    user.last_login = new Date().toISOString();
    user.last_ip = ip;
  }

  /** The user or a 404 `inexistent_user`. */
  requireUser(userId: string): StoredUser {
    const user = this.users.get(userId);
    if (!user) throw new Auth0ApiError(404, 'inexistent_user', 'The user does not exist.');
    return user;
  }

  /** The user of `connection` with this (lower-case) email, among users (not linked identities). */
  findByEmail(email: string, connection: string): StoredUser | undefined {
    for (const user of this.users.values())
      if (user.connection === connection && user.email === email) return user;
    return undefined;
  }

  /**
   * The identity of `connection` with this (lower-case) email, and the user it belongs to: a user
   * of its own, or the user it was linked into. This is what a login on that connection finds.
   */
  findIdentity(connection: string, email: string): FoundIdentity | undefined {
    const own = this.findByEmail(email, connection);
    if (own) return { user: own, identity: ownIdentity(own), ...passwordOf(own.passwordHash) };
    for (const user of this.users.values()) {
      const linked = user.linked.find((i) => i.connection === connection && i.profileData.email === email);
      if (linked)
        return {
          user,
          identity: { provider: linked.provider, user_id: linked.user_id, connection: linked.connection },
          ...passwordOf(linked.passwordHash),
        };
    }
    return undefined;
  }

  /** The user an identity (`provider|id`) was linked into, if it was. */
  linkedInto(fullUserId: string): StoredUser | undefined {
    const bar = fullUserId.indexOf('|');
    if (bar < 0) return undefined;
    const provider = fullUserId.slice(0, bar);
    const id = fullUserId.slice(bar + 1);
    for (const user of this.users.values())
      if (user.linked.some((i) => i.provider === provider && i.user_id === id)) return user;
    return undefined;
  }

  /**
   * Users whose email is exactly this one, like `GET /api/v2/users-by-email`: Auth0 matches the
   * users' root `email` exactly and case-sensitively (its own database stores addresses lower-case),
   * and identities linked into a user are not users of their own, so they are not listed apart.
   */
  usersByEmail(email: string): StoredUser[] {
    return [...this.users.values()].filter((u) => u.email === email);
  }

  /**
   * Links the identity `provider|secondaryId` (a user of its own) into `primaryId`, as
   * `POST /api/v2/users/{id}/identities` does: the secondary stops being a user, its identity (with
   * its profile and, for a database identity, its password) joins the primary's `identities`, and
   * its metadata and roles are dropped. Answers the primary's identities, each with `profileData`.
   */
  link(
    primaryId: string,
    secondary: { provider: string; user_id: string; connection_id?: string },
  ): ApiIdentity[] {
    const primary = this.requireUser(primaryId);
    const secondaryId = secondary.user_id.startsWith(`${secondary.provider}|`)
      ? secondary.user_id
      : `${secondary.provider}|${secondary.user_id}`;
    if (secondaryId === primary.user_id)
      throw new Auth0ApiError(400, 'invalid_body', 'Main identity and the new one are the same.');
    const other = this.users.get(secondaryId);
    const connectionMatches =
      secondary.connection_id === undefined ||
      (other !== undefined && this.connectionInfo(other.connection).id === secondary.connection_id);
    if (!other || !connectionMatches)
      throw new Auth0ApiError(400, 'invalid_body', `The user ${secondaryId} does not exist.`);
    if (other.linked.length > 0)
      throw new Auth0ApiError(
        400,
        'invalid_body',
        `The user ${secondaryId} has identities linked into it; unlink them before linking it.`,
      );
    const own = ownIdentity(other);
    primary.linked.push({
      provider: own.provider,
      user_id: own.user_id,
      connection: own.connection,
      isSocial: own.provider !== 'auth0',
      profileData: profileOf(other),
      ...(other.passwordHash === undefined ? {} : { passwordHash: other.passwordHash }),
    });
    this.users.delete(secondaryId);
    primary.updated_at = new Date().toISOString();
    return identitiesOf(primary, true);
  }

  /**
   * Unlinks an identity from `primaryId`, as `DELETE /api/v2/users/{id}/identities/{provider}/{user_id}`
   * does: the identity becomes a user of its own again, under its old id, with its profile and
   * password but no metadata and no roles. Answers the primary's remaining identities.
   */
  unlink(primaryId: string, provider: string, identityId: string): ApiIdentity[] {
    const primary = this.requireUser(primaryId);
    const id = identityId.startsWith(`${provider}|`) ? identityId.slice(provider.length + 1) : identityId;
    const own = ownIdentity(primary);
    if (own.provider === provider && own.user_id === id)
      throw new Auth0ApiError(400, 'invalid_uri', 'Main identity cannot be removed.');
    const index = primary.linked.findIndex((i) => i.provider === provider && i.user_id === id);
    const identity = primary.linked[index];
    if (!identity)
      throw new Auth0ApiError(
        400,
        'invalid_uri',
        `The identity ${provider}|${id} is not linked to the user ${primary.user_id}.`,
      );
    primary.linked.splice(index, 1);
    const user = freshUser({ user_id: `${provider}|${id}`, connection: identity.connection, ...identity.profileData });
    if (identity.passwordHash !== undefined) user.passwordHash = identity.passwordHash;
    this.users.set(user.user_id, user);
    primary.updated_at = user.created_at;
    return identitiesOf(primary, true);
  }

  /** Applies a PATCH with Auth0's merge rules. */
  updateUser(userId: string, patch: UserPatch): StoredUser {
    const user = this.requireUser(userId);
    if (patch.email !== undefined && patch.email !== null) {
      const email = patch.email.trim().toLowerCase();
      const other = this.findIdentity(user.connection, email);
      if (other && other.user.user_id !== user.user_id)
        throw new Auth0ApiError(409, 'auth0_idp_error', 'The specified new email already exists');
      user.email = email;
    }
    if (patch.email_verified !== undefined) user.email_verified = patch.email_verified;
    if (patch.blocked !== undefined) user.blocked = patch.blocked;
    if (patch.name !== undefined) user.name = patch.name ?? user.email;
    if (patch.nickname !== undefined)
      user.nickname = patch.nickname ?? user.email.split('@')[0] ?? user.email;
    if (patch.picture !== undefined) user.picture = patch.picture ?? gravatar(user.email);
    for (const field of ['given_name', 'family_name', 'username'] as const) {
      const value = patch[field];
      if (value === null) delete user[field];
      else if (value !== undefined) user[field] = value;
    }
    if (patch.password !== undefined && patch.password !== null)
      user.passwordHash = hashPassword(patch.password);
    if (patch.app_metadata !== undefined)
      user.app_metadata = mergeMetadata(user.app_metadata, patch.app_metadata);
    if (patch.user_metadata !== undefined)
      user.user_metadata = mergeMetadata(user.user_metadata, patch.user_metadata);
    user.updated_at = new Date().toISOString();
    return user;
  }

  /** Whether `password` is the user's password (for the login page). */
  verifyPassword(user: StoredUser, password: string): boolean {
    return this.verifyPasswordHash(user.passwordHash, password);
  }

  /** Whether `password` matches a stored hash (a user's or a linked database identity's). */
  verifyPasswordHash(passwordHash: string | undefined, password: string): boolean {
    if (!passwordHash) return false;
    const [salt, hash] = passwordHash.split(':');
    if (salt === undefined || hash === undefined) return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length);
    return timingSafeEqual(expected, actual);
  }

  /** Creates a role; names are unique. */
  createRole(name: string, description = name): StoredRole {
    const taken = [...this.roles.values()].some((r) => r.name.toLowerCase() === name.toLowerCase());
    if (taken) throw new Auth0ApiError(409, 'conflict', 'Role name already exists');
    const role = { id: roleId(), name, description };
    this.roles.set(role.id, role);
    return role;
  }

  /** The role or a 404 `inexistent_role`. */
  requireRole(roleId: string): StoredRole {
    const role = this.roles.get(roleId);
    if (!role) throw new Auth0ApiError(404, 'inexistent_role', 'The role does not exist.');
    return role;
  }

  /** Deletes a role and takes it away from every user who had it, as Auth0 does; 404 when unknown. */
  deleteRole(roleId: string): void {
    this.requireRole(roleId);
    this.roles.delete(roleId);
    for (const user of this.users.values()) user.roleIds = user.roleIds.filter((id) => id !== roleId);
  }

  /** Roles whose name contains `nameFilter`, ignoring case (Auth0 does not promise an exact match). */
  listRoles(nameFilter?: string): StoredRole[] {
    const all = [...this.roles.values()];
    if (!nameFilter) return all;
    const needle = nameFilter.toLowerCase();
    return all.filter((r) => r.name.toLowerCase().includes(needle));
  }

  /** Assigns roles; an already assigned role is left as it is, as in Auth0. */
  assignRoles(userId: string, roleIds: string[]): void {
    const user = this.requireUser(userId);
    roleIds.forEach((id) => this.requireRole(id));
    for (const id of roleIds) if (!user.roleIds.includes(id)) user.roleIds.push(id);
  }

  /** The user's roles in assignment order. */
  rolesOf(userId: string): StoredRole[] {
    return this.requireUser(userId).roleIds.map((id) => this.requireRole(id));
  }

  /** Forgets users and roles and re-registers the initial applications; the key stays. */
  reset(): void {
    this.users.clear();
    this.roles.clear();
    this.connections.clear();
    this.connections.add(DEFAULT_CONNECTION);
    this.seedClients();
  }

  /** Users with role names, roles and applications (without secrets), for inspection. */
  snapshot(): {
    domain: string;
    users: (ApiUser & { roles: string[] })[];
    roles: StoredRole[];
    clients: { clientId: string; name?: string; grants: ClientGrant[] }[];
  } {
    return {
      domain: this.domain,
      users: [...this.users.values()].map((u) => ({
        ...toApiUser(u),
        roles: this.rolesOf(u.user_id).map((r) => r.name),
      })),
      roles: [...this.roles.values()].map((r) => ({ ...r })),
      clients: [...this.clients.values()].map(({ clientId, name, grants }) => ({
        clientId,
        ...(name === undefined ? {} : { name }),
        grants,
      })),
    };
  }
}

/** A user in the Management API's wire shape. */
export interface ApiUser {
  user_id: string;
  email: string;
  email_verified: boolean;
  name: string;
  nickname: string;
  picture: string;
  created_at: string;
  updated_at: string;
  identities: ApiIdentity[];
  logins_count?: number;
  last_login?: string;
  last_ip?: string;
  given_name?: string;
  family_name?: string;
  username?: string;
  blocked?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

/**
 * The user as the Management API returns it. Empty metadata objects are left out, as Auth0 does
 * for users that never had any, so clients must cope with a missing `app_metadata`.
 */
export function toApiUser(user: StoredUser): ApiUser {
  const out: ApiUser = {
    created_at: user.created_at,
    email: user.email,
    email_verified: user.email_verified,
    identities: identitiesOf(user, false),
    name: user.name,
    nickname: user.nickname,
    picture: user.picture,
    updated_at: user.updated_at,
    user_id: user.user_id,
  };
  Object.assign(out, optionalNames(user));
  if (user.blocked) out.blocked = true;
  // Auth0 leaves login statistics out until the first login.
  if (user.logins_count > 0) {
    out.logins_count = user.logins_count;
    if (user.last_login !== undefined) out.last_login = user.last_login;
    if (user.last_ip !== undefined) out.last_ip = user.last_ip;
  }
  if (Object.keys(user.app_metadata).length > 0) out.app_metadata = structuredClone(user.app_metadata);
  if (Object.keys(user.user_metadata).length > 0) out.user_metadata = structuredClone(user.user_metadata);
  return out;
}

/**
 * The user's identities in Auth0's wire shape: its own first, then the linked ones with their
 * `profileData`. The link and unlink answers also give the user's own identity its profile
 * (`withOwnProfile`), as Auth0's do; `GET /api/v2/users/{id}` does not.
 */
export function identitiesOf(user: StoredUser, withOwnProfile: boolean): ApiIdentity[] {
  const own = ownIdentity(user);
  return [
    {
      connection: own.connection,
      user_id: own.user_id,
      provider: own.provider,
      isSocial: own.provider !== 'auth0',
      ...(withOwnProfile ? { profileData: profileOf(user) } : {}),
    },
    ...user.linked.map((i) => ({
      connection: i.connection,
      user_id: i.user_id,
      provider: i.provider,
      isSocial: i.isSocial,
      profileData: { ...i.profileData },
    })),
  ];
}

function passwordOf(passwordHash: string | undefined): { passwordHash?: string } {
  return passwordHash === undefined ? {} : { passwordHash };
}

/** Creates a tenant with a fresh signing key and the default applications. */
export async function createAuth0Store(opts: {
  domain: string;
  clients?: Auth0ClientRegistration[];
  spa?: Pick<Auth0ClientRegistration, 'name' | 'callbacks' | 'allowedLogoutUrls' | 'allowedOrigins'>;
}): Promise<Auth0Store> {
  return new Auth0Store(opts.domain, await generateSigningKey(), opts.clients ?? [], opts.spa);
}
