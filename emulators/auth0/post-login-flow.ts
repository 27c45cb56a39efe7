// The post-login flow around the Actions: the `event` Auth0 would build for this login (user with
// metadata and identities, the connection used, client, the `/authorize` query, transaction,
// stats…), the run itself, the user the login ends up as (`api.authentication.setPrimaryUser`
// after account linking), and the metadata changes Auth0 applies once the flow is over (also when
// an Action denied access).
import type { FastifyRequest } from 'fastify';
import type { ActionExecution, ActionRuntime, FlowResult } from './actions-runtime';
import type { ActionsStore } from './actions-store';
import type { AuthMethod } from './login-state';
import { holdsIdentity, ownIdentity, toApiUser } from './store';
import type { Auth0ClientRegistration, Auth0Store, IdentityRef, StoredUser } from './store';

/** What the flow needs to know about one login. */
export interface FlowInput {
  user: StoredUser;
  /**
   * The identity that authenticated (its connection is `event.connection`): the user's own, or
   * one linked into it. Default: the user's own.
   */
  identity?: IdentityRef;
  client: Auth0ClientRegistration;
  /** The HTTP request that completes the login (its ip, user agent, host). */
  request: FastifyRequest;
  /** The `/authorize` query; empty for refresh-token exchanges. */
  query: Record<string, string>;
  body: Record<string, unknown>;
  /** `oidc-basic-profile` for the authorization code flow, `oauth2-refresh-token` for refreshes. */
  protocol: string;
  scope: string;
  audience?: string;
  sessionId?: string;
  transactionId?: string;
  redirectUri?: string;
  state?: string;
  methods: AuthMethod[];
}

/** One flow as kept for inspection (`GET /__emulator/state`), like Auth0's execution logs. */
export interface FlowRecord {
  at: string;
  userId: string;
  protocol: string;
  outcome: FlowResult['outcome'];
  denyReason?: string;
  failure?: string;
  /** Set when an Action called `api.authentication.setPrimaryUser`. */
  primaryUserId?: string;
  actions: ActionExecution[];
}

/** The flow's outcome and the user the login continues as (undefined when it failed). */
export interface LoginFlowResult extends FlowResult {
  subject?: StoredUser;
}

const KEPT_RECORDS = 50;

/** Runs the post-login Actions bound in the tenant for a login and applies their metadata changes. */
export class PostLoginFlow {
  private readonly records: FlowRecord[] = [];

  constructor(
    private readonly store: Auth0Store,
    private readonly actions: ActionsStore,
    private readonly runtime: ActionRuntime,
    private readonly opts: { logToConsole?: boolean } = {},
  ) {}

  /** The event Auth0 would pass to post-login Actions for this login (without `secrets`). */
  event(input: FlowInput): Record<string, unknown> {
    const { user, client, request, query } = input;
    const apiUser = toApiUser(user);
    const prompt = query.prompt?.split(' ').filter(Boolean);
    return {
      authentication: { methods: input.methods },
      authorization: { roles: this.store.rolesOf(user.user_id).map((r) => r.name) },
      client: { client_id: client.clientId, name: client.name ?? client.clientId, metadata: {} },
      connection: {
        ...this.store.connectionInfo((input.identity ?? ownIdentity(user)).connection),
        metadata: {},
      },
      request: {
        ip: request.ip,
        method: request.method,
        hostname: this.store.domain,
        user_agent: request.headers['user-agent'] ?? '',
        language: (request.headers['accept-language'] ?? 'en').split(',')[0]?.split(';')[0] ?? 'en',
        query: { ...query },
        body: { ...input.body },
        geoip: {},
      },
      ...(input.audience === undefined ? {} : { resource_server: { identifier: input.audience } }),
      ...(input.sessionId === undefined ? {} : { session: { id: input.sessionId } }),
      stats: { logins_count: user.logins_count },
      tenant: { id: this.store.domain.split('.')[0] ?? this.store.domain },
      transaction: {
        ...(input.transactionId === undefined ? {} : { id: input.transactionId }),
        acr_values: [],
        locale: 'en',
        ...(query.login_hint === undefined ? {} : { login_hint: query.login_hint }),
        ...(prompt === undefined ? {} : { prompt }),
        protocol: input.protocol,
        ...(input.redirectUri === undefined ? {} : { redirect_uri: input.redirectUri }),
        requested_scopes: input.scope.split(' ').filter(Boolean),
        ...(query.response_mode === undefined ? {} : { response_mode: query.response_mode }),
        ...(query.response_type === undefined ? {} : { response_type: query.response_type.split(' ') }),
        ...(input.state === undefined ? {} : { state: input.state }),
        ui_locales: query.ui_locales?.split(' ').filter(Boolean) ?? [],
      },
      user: {
        ...apiUser,
        app_metadata: apiUser.app_metadata ?? {},
        user_metadata: apiUser.user_metadata ?? {},
        multifactor: [],
      },
    };
  }

  /**
   * The user the login continues as once the Actions ran, or why the login fails. With
   * `setPrimaryUser`, Auth0 requires the named user to hold the identity that authenticated ("The
   * login will fail and tokens will not be issued otherwise"). Without it, the user who logged in
   * must still be a user: an Action that linked it into another user and did not switch leaves a
   * login for a user that no longer exists, which Auth0 also fails. Auth0 does not document the
   * error the application then gets; the emulator answers `server_error` with the reason.
   */
  private subjectOf(input: FlowInput, result: FlowResult): { subject: StoredUser } | { failure: string } {
    const identity = input.identity ?? ownIdentity(input.user);
    const identityId = `${identity.provider}|${identity.user_id}`;
    if (result.primaryUserId !== undefined) {
      const primary = this.store.users.get(result.primaryUserId);
      if (!primary)
        return {
          failure: `api.authentication.setPrimaryUser: the user ${result.primaryUserId} does not exist`,
        };
      if (!holdsIdentity(primary, identity))
        return {
          failure: `api.authentication.setPrimaryUser: the identity that logged in (${identityId}) is not linked to the user ${primary.user_id}`,
        };
      return { subject: primary };
    }
    const current = this.store.users.get(input.user.user_id);
    if (current) return { subject: current };
    const into = this.store.linkedInto(input.user.user_id);
    return {
      failure: into
        ? `the user ${input.user.user_id} was linked into ${into.user_id} during the login; call api.authentication.setPrimaryUser('${into.user_id}') to continue as that user`
        : `the user ${input.user.user_id} no longer exists`,
    };
  }

  /**
   * Runs the bound Actions and settles the user the login continues as; metadata changes go to
   * that user (after `setPrimaryUser`, the one the identity was linked into) unless the flow failed.
   */
  async run(input: FlowInput): Promise<LoginFlowResult> {
    let result: LoginFlowResult = await this.runtime.runPostLogin(
      this.actions.runnable('post-login'),
      this.event(input),
    );
    if (result.outcome !== 'failed') {
      const settled = this.subjectOf(input, result);
      // A denied login stays denied; its metadata changes still apply when their user is known.
      if ('failure' in settled && result.outcome === 'denied') {
        // Nothing to apply the changes to.
      } else if ('failure' in settled) {
        result = {
          ...result,
          outcome: 'failed',
          failure: settled.failure,
          failureDescription: settled.failure,
          error: 'server_error',
        };
      } else {
        result = { ...result, subject: settled.subject };
        // An empty patch would clear all metadata under Auth0's merge rules, so only real changes go in.
        const patch = {
          ...(Object.keys(result.appMetadata).length > 0 ? { app_metadata: result.appMetadata } : {}),
          ...(Object.keys(result.userMetadata).length > 0 ? { user_metadata: result.userMetadata } : {}),
        };
        if (Object.keys(patch).length > 0) this.store.updateUser(settled.subject.user_id, patch);
      }
    }
    const record: FlowRecord = {
      at: new Date().toISOString(),
      userId: input.user.user_id,
      protocol: input.protocol,
      outcome: result.outcome,
      ...(result.denyReason === undefined ? {} : { denyReason: result.denyReason }),
      ...(result.failure === undefined ? {} : { failure: result.failure }),
      ...(result.primaryUserId === undefined ? {} : { primaryUserId: result.primaryUserId }),
      actions: result.executions,
    };
    this.records.push(record);
    if (this.records.length > KEPT_RECORDS) this.records.shift();
    if (this.opts.logToConsole) {
      for (const execution of result.executions)
        for (const line of execution.logs) console.log(`[auth0 action ${execution.name}] ${line}`);
      if (result.failure) console.log(`[auth0 action] login failed: ${result.failure}`);
    }
    return result;
  }

  /** The latest flows, oldest first. */
  history(): FlowRecord[] {
    return this.records.map((r) => structuredClone(r));
  }

  /** Forgets the history. */
  clear(): void {
    this.records.splice(0, this.records.length);
  }
}
