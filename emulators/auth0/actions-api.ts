// The Management API's Actions routes the deploy script uses, in Auth0's wire shapes: list, create,
// read and update Actions, deploy a draft (refused until it is built), and read or replace the
// bindings of a trigger. Secret values are write-only, as in Auth0.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KNOWN_RUNTIMES, KNOWN_TRIGGERS } from './actions-store';
import type { ActionsStore, StoredAction, StoredBinding, StoredVersion } from './actions-store';
import { parseBody, requireScope } from './management';
import { Auth0ApiError } from './store';

const trigger = z.looseObject({ id: z.string().min(1), version: z.string().min(1).optional() });
const dependency = z.strictObject({
  name: z.string().min(1),
  version: z.string().min(1),
  registry_url: z.string().optional(),
});
const secret = z.looseObject({ name: z.string().min(1), value: z.string().optional() });

const createBody = z.strictObject({
  name: z.string().min(1),
  supported_triggers: z.array(trigger).min(1),
  code: z.string().optional(),
  dependencies: z.array(dependency).optional(),
  runtime: z.enum(KNOWN_RUNTIMES).optional(),
  secrets: z.array(secret).optional(),
  deploy: z.boolean().optional(),
});

const updateBody = z.strictObject({
  name: z.string().min(1).optional(),
  supported_triggers: z.array(trigger).min(1).optional(),
  code: z.string().optional(),
  dependencies: z.array(dependency).optional(),
  runtime: z.enum(KNOWN_RUNTIMES).optional(),
  secrets: z.array(secret).optional(),
});

const listQuery = z.strictObject({
  triggerId: z.string().optional(),
  actionName: z.string().optional(),
  deployed: z.enum(['true', 'false']).optional(),
  installed: z.enum(['true', 'false']).optional(),
  page: z.coerce.number().int().min(0).default(0),
  per_page: z.coerce.number().int().min(1).max(100).default(50),
});

const bindingsQuery = z.strictObject({
  page: z.coerce.number().int().min(0).default(0),
  per_page: z.coerce.number().int().min(1).max(100).default(50),
});

const bindingsBody = z.strictObject({
  bindings: z.array(
    z.strictObject({
      ref: z.strictObject({
        type: z.enum(['binding_id', 'action_id', 'action_name']),
        value: z.string().min(1),
      }),
      display_name: z.string().min(1).optional(),
      secrets: z.array(secret).optional(),
    }),
  ),
});

const triggerParam = z.enum(KNOWN_TRIGGERS);

// Auth0 fills in the trigger version it runs when a client leaves it out.
function normalizeTriggers(triggers: z.infer<typeof trigger>[]): { id: string; version: string }[] {
  return triggers.map((t) => ({ id: t.id, version: t.version ?? (t.id === 'post-login' ? 'v3' : 'v2') }));
}

function secretsOut(secrets: { name: string; updated_at: string }[]): { name: string; updated_at: string }[] {
  return secrets.map(({ name, updated_at }) => ({ name, updated_at }));
}

function actionBase(action: StoredAction): Record<string, unknown> {
  return {
    id: action.id,
    name: action.name,
    supported_triggers: action.supportedTriggers,
    all_changes_deployed: action.allChangesDeployed,
    created_at: action.createdAt,
    updated_at: action.updatedAt,
  };
}

function versionOut(action: StoredAction, version: StoredVersion): Record<string, unknown> {
  return {
    id: version.id,
    action_id: action.id,
    code: version.code,
    dependencies: version.dependencies,
    deployed: version.id === action.deployedVersionId,
    runtime: version.runtime,
    secrets: secretsOut(version.secrets),
    status: 'built',
    number: version.number,
    errors: [],
    action: actionBase(action),
    built_at: version.builtAt,
    created_at: version.createdAt,
    updated_at: version.createdAt,
    supported_triggers: version.supportedTriggers,
  };
}

function actionOut(actions: ActionsStore, action: StoredAction): Record<string, unknown> {
  const status = actions.statusOf(action);
  const deployed = actions.deployedVersion(action);
  return {
    ...actionBase(action),
    code: action.code,
    dependencies: action.dependencies,
    runtime: action.runtime,
    secrets: secretsOut(action.secrets),
    status,
    ...(status === 'built' ? { built_at: new Date(action.builtAtMs).toISOString() } : {}),
    ...(deployed ? { deployed_version: versionOut(action, deployed) } : {}),
  };
}

function bindingOut(actions: ActionsStore, binding: StoredBinding): Record<string, unknown> {
  return {
    id: binding.id,
    trigger_id: binding.triggerId,
    display_name: binding.displayName,
    action: actionOut(actions, actions.require(binding.actionId)),
    created_at: binding.createdAt,
    updated_at: binding.updatedAt,
  };
}

function parseTrigger(value: string): (typeof KNOWN_TRIGGERS)[number] {
  const parsed = triggerParam.safeParse(value);
  if (!parsed.success) throw new Auth0ApiError(404, 'not_found', `Trigger '${value}' not found.`);
  return parsed.data;
}

/** Registers `/actions/actions…` and `/actions/triggers/{id}/bindings` on the Management API. */
export function registerActionRoutes(api: FastifyInstance, opts: { actions: ActionsStore }): void {
  const { actions } = opts;

  api.get('/actions/actions', (request) => {
    requireScope(request, ['read:actions']);
    const query = parseBody(listQuery, request.query ?? {}, 'Query');
    const all = [...actions.actions.values()].filter(
      (a) =>
        (query.actionName === undefined || a.name === query.actionName) &&
        (query.triggerId === undefined || a.supportedTriggers.some((t) => t.id === query.triggerId)) &&
        (query.deployed === undefined || (a.deployedVersionId !== undefined) === (query.deployed === 'true')),
    );
    const start = query.page * query.per_page;
    return {
      actions: all.slice(start, start + query.per_page).map((a) => actionOut(actions, a)),
      total: all.length,
      page: query.page,
      per_page: query.per_page,
    };
  });

  api.post('/actions/actions', async (request, reply) => {
    requireScope(request, ['create:actions']);
    const body = parseBody(createBody, request.body);
    const action = actions.create({
      ...body,
      supported_triggers: normalizeTriggers(body.supported_triggers),
    });
    // `deploy: true` deploys once the build is done; the emulator builds at once in that case.
    if (body.deploy) {
      action.builtAtMs = Date.now();
      actions.deploy(action.id);
    }
    return reply.code(201).send(actionOut(actions, action));
  });

  api.get<{ Params: { id: string } }>('/actions/actions/:id', (request) => {
    requireScope(request, ['read:actions']);
    return actionOut(actions, actions.require(request.params.id));
  });

  api.patch<{ Params: { id: string } }>('/actions/actions/:id', (request) => {
    requireScope(request, ['update:actions']);
    const body = parseBody(updateBody, request.body);
    const { supported_triggers: triggers, ...rest } = body;
    const action = actions.update(request.params.id, {
      ...rest,
      ...(triggers ? { supported_triggers: normalizeTriggers(triggers) } : {}),
    });
    return actionOut(actions, action);
  });

  api.post<{ Params: { id: string } }>('/actions/actions/:id/deploy', async (request, reply) => {
    requireScope(request, ['create:actions', 'update:actions']);
    const version = actions.deploy(request.params.id);
    return reply.code(202).send(versionOut(actions.require(request.params.id), version));
  });

  api.get<{ Params: { triggerId: string } }>('/actions/triggers/:triggerId/bindings', (request) => {
    requireScope(request, ['read:actions', 'read:triggers']);
    const triggerId = parseTrigger(request.params.triggerId);
    const query = parseBody(bindingsQuery, request.query ?? {}, 'Query');
    const all = actions.bindingsOf(triggerId);
    const start = query.page * query.per_page;
    return {
      bindings: all.slice(start, start + query.per_page).map((b) => bindingOut(actions, b)),
      total: all.length,
      page: query.page,
      per_page: query.per_page,
    };
  });

  api.patch<{ Params: { triggerId: string } }>('/actions/triggers/:triggerId/bindings', (request) => {
    requireScope(request, ['update:actions', 'update:triggers']);
    const triggerId = parseTrigger(request.params.triggerId);
    const { bindings } = parseBody(bindingsBody, request.body);
    const next = actions.replaceBindings(triggerId, bindings);
    return { bindings: next.map((b) => bindingOut(actions, b)) };
  });
}
