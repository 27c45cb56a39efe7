// Runs deployed post-login Action code the way Auth0 does, closely enough to trust a test: each
// execution gets a fresh `node:vm` context with Node's web globals and a `require` limited to Node
// built-ins (the emulator installs no npm dependencies); Actions run in binding order with one
// time budget for the whole flow; `api` calls are recorded and applied after the flow, metadata
// changes included, and `access.deny` stops the flow. `api.authentication.setPrimaryUser` names the
// user the login continues as (account linking); the caller checks it. What the emulator cannot do
// (redirects, MFA, …) throws a clear error inside the Action instead of silently doing nothing.
import { builtinModules, createRequire } from 'node:module';
import { webcrypto } from 'node:crypto';
import vm from 'node:vm';
import type { RunnableAction } from './actions-store';

/** Auth0's limit for a whole post-login flow. */
export const DEFAULT_FLOW_BUDGET_MS = 20_000;

/** What one Action of the flow did. */
export interface ActionExecution {
  name: string;
  versionId: string;
  logs: string[];
  error?: string;
}

/** The outcome of the post-login flow, to be applied by the caller. */
export interface FlowResult {
  outcome: 'allowed' | 'denied' | 'failed';
  denyReason?: string;
  /** Why the login failed: an Action threw, did not export its handler, or the budget ran out. */
  failure?: string;
  /** What Auth0 tells the application about a failure: the thrown error's message. */
  failureDescription?: string;
  idTokenClaims: Record<string, unknown>;
  accessTokenClaims: Record<string, unknown>;
  addedScopes: string[];
  removedScopes: string[];
  /** Top-level metadata changes; `null` removes a key (Auth0's merge rules). */
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  executions: ActionExecution[];
  /** `api.authentication.setPrimaryUser`: the user the login continues as, still to be checked. */
  primaryUserId?: string;
  /** The OAuth error the application gets for a failed flow; `access_denied` when not set. */
  error?: string;
}

/**
 * The post-login `api` object as Auth0 documents it ("Actions Triggers: post-login - API Object"),
 * for the methods the emulator offers; the ones it cannot honour throw `UnsupportedApiError`.
 */
export interface PostLoginApi {
  access: { deny(reason: string): PostLoginApi };
  accessToken: {
    setCustomClaim(name: string, value: unknown): PostLoginApi;
    addScope(scope: string): PostLoginApi;
    removeScope(scope: string): PostLoginApi;
  };
  idToken: { setCustomClaim(name: string, value: unknown): PostLoginApi };
  user: {
    setAppMetadata(name: string, value: unknown): PostLoginApi;
    setUserMetadata(name: string, value: unknown): PostLoginApi;
  };
  authentication: {
    challengeWith(factor: unknown, options?: unknown): void;
    challengeWithAny(factors: unknown[]): void;
    enrollWith(factor: unknown, options?: unknown): void;
    enrollWithAny(factors: unknown[]): void;
    recordMethod(providerUrl: string): PostLoginApi;
    /**
     * Changes the user the login is for (the `sub` of the tokens) to `primaryUserId`, which must
     * hold the identity that authenticated among its linked identities; otherwise the login fails.
     */
    setPrimaryUser(primaryUserId: string): void;
  };
  cache: {
    get(key: string): { value: string; expires_at: number } | undefined;
    set(
      key: string,
      value: string,
      options?: { ttl?: number; expires_at?: number },
    ): { type: 'success'; record: { value: string; expires_at: number } };
    delete(key: string): { type: 'success' };
  };
  redirect: {
    sendUserTo(url: string, options?: unknown): PostLoginApi;
    encodeToken(options: unknown): string;
    validateToken(options: unknown): unknown;
  };
  multifactor: { enable(provider: string, options?: unknown): PostLoginApi };
  session: {
    revoke(reason?: string): void;
    setExpiresAt(at: number): void;
    setIdleExpiresAt(at: number): void;
  };
}

/** Thrown inside an Action that calls an `api` method the emulator does not implement. */
export class UnsupportedApiError extends Error {
  override readonly name = 'UnsupportedApiError';
}

const hostRequire = createRequire(import.meta.url);
const builtins = new Set(builtinModules);

function sandboxRequire(name: string): unknown {
  const bare = name.startsWith('node:') ? name.slice('node:'.length) : name;
  if (!builtins.has(bare))
    throw new Error(
      `Cannot find module '${name}': the Auth0 emulator runs Actions without npm dependencies; bundle them or use Node built-ins`,
    );
  return hostRequire(name);
}

const stringify = (args: unknown[]): string =>
  args
    .map((a) => {
      if (typeof a === 'string') return a;
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(' ');

function sandboxGlobals(logs: string[]): Record<string, unknown> {
  const log = (...args: unknown[]): void => {
    logs.push(stringify(args));
  };
  return {
    console: { log, info: log, warn: log, error: log, debug: log },
    fetch,
    Headers,
    Request,
    Response,
    FormData,
    Blob,
    AbortController,
    AbortSignal,
    URL,
    URLSearchParams,
    TextEncoder,
    TextDecoder,
    Buffer,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    setImmediate,
    clearImmediate,
    queueMicrotask,
    structuredClone,
    atob,
    btoa,
    crypto: webcrypto,
    process: {
      env: {},
      version: process.version,
      versions: process.versions,
      nextTick: (callback: () => void) => process.nextTick(callback),
    },
  };
}

// Values cross from the Action's context into ours and end up in JSON tokens and metadata, so
// they are copied as JSON: what Auth0 could not store does not survive here either.
function asJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

const errorMessage = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string'
    ? error.message
    : String(error);

/** Compiles and runs Action code; compiled scripts and `api.cache` entries live as long as it does. */
export class ActionRuntime {
  private readonly scripts = new Map<string, vm.Script>();
  private readonly caches = new Map<string, Map<string, { value: string; expires_at: number }>>();

  constructor(private readonly budgetMs: number = DEFAULT_FLOW_BUDGET_MS) {}

  private script(action: RunnableAction): vm.Script {
    let script = this.scripts.get(action.versionId);
    if (!script) {
      script = new vm.Script(
        `(function (exports, require, module, __filename, __dirname) {${action.code}\n})`,
        { filename: `auth0-action/${action.name}.js` },
      );
      this.scripts.set(action.versionId, script);
    }
    return script;
  }

  private load(action: RunnableAction, logs: string[]): Record<string, unknown> {
    const context = vm.createContext(sandboxGlobals(logs));
    const wrapper = this.script(action).runInContext(context, { timeout: 1000 }) as (
      exports: object,
      require: (name: string) => unknown,
      module: { exports: object },
      filename: string,
      dirname: string,
    ) => void;
    const module = { exports: {} as object };
    wrapper(module.exports, sandboxRequire, module, `/action/${action.name}.js`, '/action');
    return module.exports as Record<string, unknown>;
  }

  private cacheOf(actionId: string): Map<string, { value: string; expires_at: number }> {
    let cache = this.caches.get(actionId);
    if (!cache) {
      cache = new Map();
      this.caches.set(actionId, cache);
    }
    return cache;
  }

  /**
   * Runs the Actions in order with `event` (each gets its own copy with its secrets and the
   * metadata changes made so far) until one denies, fails or the budget runs out.
   */
  async runPostLogin(actions: RunnableAction[], event: Record<string, unknown>): Promise<FlowResult> {
    const result: FlowResult = {
      outcome: 'allowed',
      idTokenClaims: {},
      accessTokenClaims: {},
      addedScopes: [],
      removedScopes: [],
      appMetadata: {},
      userMetadata: {},
      executions: [],
    };
    const deadline = Date.now() + this.budgetMs;
    // An Action that outlives the budget keeps running in the background; it must not change a
    // result that was already decided.
    let open = true;

    for (const action of actions) {
      const execution: ActionExecution = { name: action.name, versionId: action.versionId, logs: [] };
      result.executions.push(execution);
      const api = this.api(action, result, () => open);
      const actionEvent = this.eventFor(event, action, result);
      let timer: NodeJS.Timeout | undefined;
      try {
        const exported = this.load(action, execution.logs);
        const handler = exported.onExecutePostLogin;
        if (typeof handler !== 'function') throw new Error('the Action does not export onExecutePostLogin');
        const remaining = Math.max(0, deadline - Date.now());
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), remaining);
        });
        const run = Promise.resolve((handler as (e: unknown, a: unknown) => unknown)(actionEvent, api));
        const raced = await Promise.race([run.then(() => 'done' as const), timeout]);
        if (raced === 'timeout') {
          open = false;
          execution.error = `the post-login flow exceeded its ${this.budgetMs} ms budget`;
          return {
            ...result,
            outcome: 'failed',
            failure: `Action "${action.name}": ${execution.error}`,
            failureDescription: 'Script execution time exceeded',
          };
        }
      } catch (error) {
        open = false;
        execution.error = errorMessage(error);
        return {
          ...result,
          outcome: 'failed',
          failure: `Action "${action.name}": ${execution.error}`,
          failureDescription: execution.error,
        };
      } finally {
        clearTimeout(timer);
      }
      if (result.outcome === 'denied') break;
    }
    open = false;
    return result;
  }

  private eventFor(
    event: Record<string, unknown>,
    action: RunnableAction,
    result: FlowResult,
  ): Record<string, unknown> {
    const copy = structuredClone(event);
    const user = copy.user as Record<string, unknown> | undefined;
    if (user) {
      user.app_metadata = applyPatch(user.app_metadata, result.appMetadata);
      user.user_metadata = applyPatch(user.user_metadata, result.userMetadata);
    }
    copy.secrets = { ...action.secrets };
    return copy;
  }

  private api(action: RunnableAction, result: FlowResult, isOpen: () => boolean): PostLoginApi {
    // Every call after the flow was decided (budget spent, an earlier failure) changes nothing.
    const guard =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): PostLoginApi => {
        if (isOpen()) fn(...args);
        return api;
      };
    const claimSetter = (target: Record<string, unknown>) =>
      guard((name: unknown, value: unknown) => {
        if (typeof name !== 'string' || name === '') throw new TypeError('setCustomClaim needs a claim name');
        if (value === undefined) delete target[name];
        else target[name] = asJson(value);
      });
    const metadataSetter = (target: Record<string, unknown>) =>
      guard((name: unknown, value: unknown) => {
        if (typeof name !== 'string' || name === '') throw new TypeError('metadata needs a property name');
        target[name] = value === undefined ? null : asJson(value);
      });
    const unsupported = (what: string) => (): never => {
      throw new UnsupportedApiError(`${what} is not supported by the Auth0 emulator`);
    };
    const cache = this.cacheOf(action.actionId);

    const api: PostLoginApi = {
      access: {
        deny: guard((reason: unknown) => {
          result.outcome = 'denied';
          result.denyReason = typeof reason === 'string' ? reason : String(reason);
        }),
      },
      idToken: { setCustomClaim: claimSetter(result.idTokenClaims) },
      accessToken: {
        setCustomClaim: claimSetter(result.accessTokenClaims),
        addScope: guard((scope: unknown) => {
          if (typeof scope === 'string') result.addedScopes.push(scope);
        }),
        removeScope: guard((scope: unknown) => {
          if (typeof scope === 'string') result.removedScopes.push(scope);
        }),
      },
      user: {
        setAppMetadata: metadataSetter(result.appMetadata),
        setUserMetadata: metadataSetter(result.userMetadata),
      },
      cache: {
        get: (key: string) => {
          const entry = cache.get(key);
          if (!entry || entry.expires_at <= Date.now()) return undefined;
          return { ...entry };
        },
        set: (key: string, value: string, options: { ttl?: number; expires_at?: number } = {}) => {
          const expiresAt = options.expires_at ?? Date.now() + (options.ttl ?? 15 * 60_000);
          const record = { value: String(value), expires_at: expiresAt };
          cache.set(key, record);
          return { type: 'success', record };
        },
        delete: (key: string) => {
          cache.delete(key);
          return { type: 'success' };
        },
      },
      redirect: {
        sendUserTo: unsupported('api.redirect.sendUserTo'),
        encodeToken: unsupported('api.redirect.encodeToken'),
        validateToken: unsupported('api.redirect.validateToken'),
      },
      multifactor: { enable: unsupported('api.multifactor.enable') },
      authentication: {
        challengeWith: unsupported('api.authentication.challengeWith'),
        challengeWithAny: unsupported('api.authentication.challengeWithAny'),
        enrollWith: unsupported('api.authentication.enrollWith'),
        enrollWithAny: unsupported('api.authentication.enrollWithAny'),
        recordMethod: unsupported('api.authentication.recordMethod'),
        // Recorded here, checked once the flow is over (post-login-flow.ts): the named user must
        // hold the identity that authenticated, or the login fails without tokens.
        setPrimaryUser: (primaryUserId: unknown): void => {
          if (typeof primaryUserId !== 'string' || primaryUserId === '')
            throw new TypeError('setPrimaryUser needs the primary user id');
          if (isOpen()) result.primaryUserId = primaryUserId;
        },
      },
      session: {
        revoke: unsupported('api.session.revoke'),
        setExpiresAt: unsupported('api.session.setExpiresAt'),
        setIdleExpiresAt: unsupported('api.session.setIdleExpiresAt'),
      },
    };
    return api;
  }
}

/** Auth0's top-level metadata merge: `null` removes a key, anything else replaces it. */
export function applyPatch(current: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> =
    typeof current === 'object' && current !== null ? { ...(current as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
