// The tenant's Actions as Auth0 keeps them: an editable draft per Action that Auth0 builds
// asynchronously, immutable deployed versions (code and secrets are tied to a version), and the
// ordered bindings of each trigger. The emulator runs what is deployed and bound, nothing else.
import { randomUUID } from 'node:crypto';
import { Auth0ApiError } from './store';

/** Triggers Auth0 knows; only `post-login` is ever executed by the emulator. */
export const KNOWN_TRIGGERS = [
  'post-login',
  'credentials-exchange',
  'pre-user-registration',
  'post-user-registration',
  'post-change-password',
  'send-phone-message',
  'password-reset-post-challenge',
] as const;

/** Runtimes Auth0 accepts; `node22` is the current default. */
export const KNOWN_RUNTIMES = ['node12', 'node16', 'node18', 'node18-actions', 'node22'];

/** Auth0's limits on an Action: code size and number of secrets. */
export const ACTION_LIMITS = { codeBytes: 100 * 1024, secrets: 30 };

/** A trigger an Action declares it supports. */
export interface SupportedTrigger {
  id: string;
  version?: string;
}

/** An npm dependency (stored, never installed: the emulator runs Node built-ins only). */
export interface Dependency {
  name: string;
  version: string;
  registry_url?: string;
}

interface StoredSecret {
  name: string;
  value: string;
  updated_at: string;
}

/** An immutable deployed version. */
export interface StoredVersion {
  id: string;
  actionId: string;
  number: number;
  code: string;
  runtime: string;
  dependencies: Dependency[];
  secrets: StoredSecret[];
  supportedTriggers: SupportedTrigger[];
  createdAt: string;
  builtAt: string;
}

/** An Action with its current draft. */
export interface StoredAction {
  id: string;
  name: string;
  supportedTriggers: SupportedTrigger[];
  code: string;
  runtime: string;
  dependencies: Dependency[];
  secrets: StoredSecret[];
  createdAt: string;
  updatedAt: string;
  /** When the draft's asynchronous build finishes (epoch ms). */
  builtAtMs: number;
  versions: StoredVersion[];
  deployedVersionId?: string;
  /** Whether the draft equals the deployed version. */
  allChangesDeployed: boolean;
}

/** One Action bound to a trigger, in execution order. */
export interface StoredBinding {
  id: string;
  triggerId: string;
  actionId: string;
  displayName: string;
  /** Binding-level secrets; Auth0 uses them for Marketplace integrations. They override the Action's. */
  secrets: StoredSecret[];
  createdAt: string;
  updatedAt: string;
}

/** Fields of a create or update request. */
export interface ActionInput {
  name?: string;
  supported_triggers?: SupportedTrigger[];
  code?: string;
  runtime?: string;
  dependencies?: Dependency[];
  secrets?: { name: string; value?: string }[];
}

/** A deployed, bound Action ready to run: its code and secrets. */
export interface RunnableAction {
  actionId: string;
  name: string;
  versionId: string;
  code: string;
  secrets: Record<string, string>;
}

/** A reference to what a binding should point at, as in `PATCH /actions/triggers/{id}/bindings`. */
export interface BindingRef {
  ref: { type: 'binding_id' | 'action_id' | 'action_name'; value: string };
  display_name?: string;
  secrets?: { name: string; value?: string }[];
}

const now = (): string => new Date().toISOString();

// Auth0 replaces the whole set of secrets on each update; a secret sent without a value keeps the
// value it had (that is how its dashboard saves a draft without re-entering every secret).
function mergeSecrets(previous: StoredSecret[], next: { name: string; value?: string }[]): StoredSecret[] {
  if (next.length > ACTION_LIMITS.secrets)
    throw new Auth0ApiError(
      400,
      'invalid_body',
      `An action can have at most ${ACTION_LIMITS.secrets} secrets`,
    );
  const at = now();
  return next.map(({ name, value }) => {
    const old = previous.find((s) => s.name === name);
    if (value === undefined) return old ?? { name, value: '', updated_at: at };
    return old && old.value === value ? old : { name, value, updated_at: at };
  });
}

function checkCode(code: string): void {
  if (Buffer.byteLength(code) > ACTION_LIMITS.codeBytes)
    throw new Auth0ApiError(
      400,
      'invalid_body',
      `Payload validation error: 'String is too long' on property code (at most ${ACTION_LIMITS.codeBytes} bytes).`,
    );
}

/** The Actions, versions and trigger bindings of one emulated tenant. */
export class ActionsStore {
  readonly actions = new Map<string, StoredAction>();
  readonly bindings: StoredBinding[] = [];

  /** @param buildDelayMs how long Auth0 "builds" a draft after create/update before it can be deployed. */
  constructor(private buildDelayMs = 0) {}

  /** Changes the build delay for later creates and updates. */
  setBuildDelay(ms: number): void {
    this.buildDelayMs = ms;
  }

  /** `building` until the draft's build delay has passed, then `built`. */
  statusOf(action: StoredAction): 'building' | 'built' {
    return Date.now() >= action.builtAtMs ? 'built' : 'building';
  }

  /** Creates an Action; names are unique in a tenant. */
  create(input: ActionInput & { name: string; supported_triggers: SupportedTrigger[] }): StoredAction {
    if ([...this.actions.values()].some((a) => a.name === input.name))
      throw new Auth0ApiError(409, 'conflict', `An action with the name '${input.name}' already exists.`);
    const code = input.code ?? '';
    checkCode(code);
    const at = now();
    const action: StoredAction = {
      id: randomUUID(),
      name: input.name,
      supportedTriggers: input.supported_triggers,
      code,
      runtime: input.runtime ?? 'node22',
      dependencies: input.dependencies ?? [],
      secrets: mergeSecrets([], input.secrets ?? []),
      createdAt: at,
      updatedAt: at,
      builtAtMs: Date.now() + this.buildDelayMs,
      versions: [],
      allChangesDeployed: false,
    };
    this.actions.set(action.id, action);
    return action;
  }

  /** The Action or a 404. */
  require(actionId: string): StoredAction {
    const action = this.actions.get(actionId);
    if (!action) throw new Auth0ApiError(404, 'not_found', 'Action not found.');
    return action;
  }

  /** Updates the draft; every change starts a new build. */
  update(actionId: string, input: ActionInput): StoredAction {
    const action = this.require(actionId);
    if (input.name !== undefined && input.name !== action.name) {
      if ([...this.actions.values()].some((a) => a.name === input.name))
        throw new Auth0ApiError(409, 'conflict', `An action with the name '${input.name}' already exists.`);
      action.name = input.name;
    }
    if (input.code !== undefined) {
      checkCode(input.code);
      action.code = input.code;
    }
    if (input.supported_triggers !== undefined) action.supportedTriggers = input.supported_triggers;
    if (input.runtime !== undefined) action.runtime = input.runtime;
    if (input.dependencies !== undefined) action.dependencies = input.dependencies;
    if (input.secrets !== undefined) action.secrets = mergeSecrets(action.secrets, input.secrets);
    action.updatedAt = now();
    action.builtAtMs = Date.now() + this.buildDelayMs;
    action.allChangesDeployed = false;
    return action;
  }

  /** Deploys the draft as a new immutable version; refused until the draft is built, as in Auth0. */
  deploy(actionId: string): StoredVersion {
    const action = this.require(actionId);
    if (this.statusOf(action) !== 'built')
      throw new Auth0ApiError(
        400,
        'bad_request',
        "A draft must be in the 'built' state before it can be deployed.",
      );
    const at = now();
    const version: StoredVersion = {
      id: randomUUID(),
      actionId,
      number: action.versions.length + 1,
      code: action.code,
      runtime: action.runtime,
      dependencies: structuredClone(action.dependencies),
      secrets: action.secrets.map((s) => ({ ...s })),
      supportedTriggers: structuredClone(action.supportedTriggers),
      createdAt: at,
      builtAt: new Date(action.builtAtMs).toISOString(),
    };
    action.versions.push(version);
    action.deployedVersionId = version.id;
    action.allChangesDeployed = true;
    return version;
  }

  /** The deployed version, if any. */
  deployedVersion(action: StoredAction): StoredVersion | undefined {
    return action.versions.find((v) => v.id === action.deployedVersionId);
  }

  /** Bindings of a trigger in execution order. */
  bindingsOf(triggerId: string): StoredBinding[] {
    return this.bindings.filter((b) => b.triggerId === triggerId);
  }

  /** Replaces a trigger's bindings, as `PATCH /actions/triggers/{id}/bindings` does. */
  replaceBindings(triggerId: string, refs: BindingRef[]): StoredBinding[] {
    const current = this.bindingsOf(triggerId);
    const at = now();
    const next = refs.map(({ ref, display_name: displayName, secrets }): StoredBinding => {
      if (ref.type === 'binding_id') {
        const existing = current.find((b) => b.id === ref.value);
        if (!existing) throw new Auth0ApiError(404, 'not_found', `Binding ${ref.value} not found.`);
        return {
          ...existing,
          displayName: displayName ?? existing.displayName,
          secrets: secrets ? mergeSecrets(existing.secrets, secrets) : existing.secrets,
          updatedAt: at,
        };
      }
      const action =
        ref.type === 'action_id'
          ? this.actions.get(ref.value)
          : [...this.actions.values()].find((a) => a.name === ref.value);
      if (!action) throw new Auth0ApiError(404, 'not_found', `Action ${ref.value} not found.`);
      if (!action.supportedTriggers.some((t) => t.id === triggerId))
        throw new Auth0ApiError(
          400,
          'bad_request',
          `Action '${action.name}' does not support the trigger '${triggerId}'.`,
        );
      if (!this.deployedVersion(action))
        throw new Auth0ApiError(
          400,
          'bad_request',
          `Action '${action.name}' must be deployed before it can be bound.`,
        );
      return {
        id: randomUUID(),
        triggerId,
        actionId: action.id,
        displayName: displayName ?? action.name,
        secrets: mergeSecrets([], secrets ?? []),
        createdAt: at,
        updatedAt: at,
      };
    });
    const others = this.bindings.filter((b) => b.triggerId !== triggerId);
    this.bindings.splice(0, this.bindings.length, ...others, ...next);
    return next;
  }

  /** The deployed code and secrets of each Action bound to the trigger, in order. */
  runnable(triggerId: string): RunnableAction[] {
    return this.bindingsOf(triggerId).flatMap((binding) => {
      const action = this.actions.get(binding.actionId);
      const version = action && this.deployedVersion(action);
      if (!action || !version) return [];
      const secrets = Object.fromEntries(
        [...version.secrets, ...binding.secrets].map((s) => [s.name, s.value] as const),
      );
      return [
        {
          actionId: action.id,
          name: binding.displayName,
          versionId: version.id,
          code: version.code,
          secrets,
        },
      ];
    });
  }

  /** Creates, deploys and binds an Action to post-login in one step (emulator options and tests). */
  install(input: { name: string; code: string; secrets?: Record<string, string> }): StoredAction {
    const existing = [...this.actions.values()].find((a) => a.name === input.name);
    const secrets = Object.entries(input.secrets ?? {}).map(([name, value]) => ({ name, value }));
    const fields = { code: input.code, secrets, supported_triggers: [{ id: 'post-login', version: 'v3' }] };
    const action = existing ? this.update(existing.id, fields) : this.create({ name: input.name, ...fields });
    action.builtAtMs = Date.now();
    this.deploy(action.id);
    if (!this.bindingsOf('post-login').some((b) => b.actionId === action.id)) {
      const keep = this.bindingsOf('post-login').map((b) => ({
        ref: { type: 'binding_id' as const, value: b.id },
      }));
      this.replaceBindings('post-login', [...keep, { ref: { type: 'action_id', value: action.id } }]);
    }
    return action;
  }

  /** Forgets every Action and binding. */
  clear(): void {
    this.actions.clear();
    this.bindings.splice(0, this.bindings.length);
  }

  /** Actions (without secret values) and bindings, for inspection. */
  snapshot(): {
    actions: { id: string; name: string; deployedVersion?: number; secrets: string[] }[];
    bindings: { triggerId: string; actionId: string; displayName: string }[];
  } {
    return {
      actions: [...this.actions.values()].map((a) => {
        const deployed = this.deployedVersion(a)?.number;
        return {
          id: a.id,
          name: a.name,
          ...(deployed === undefined ? {} : { deployedVersion: deployed }),
          secrets: a.secrets.map((s) => s.name),
        };
      }),
      bindings: this.bindings.map(({ triggerId, actionId, displayName }) => ({
        triggerId,
        actionId,
        displayName,
      })),
    };
  }
}
