// A local stand-in for HubSpot's CRM v3 contacts, contact-properties and property-groups APIs, spoken in HubSpot's
// wire format so the unchanged `@hubspot/api-client` can drive it: private-app bearer auth, the
// ten-secondly rolling rate limit with its `X-HubSpot-RateLimit-*` headers, emails compared
// without case, the contact properties every account has beside the custom ones, and unknown
// properties refused like HubSpot does. `/__emulator/*` routes (not part of HubSpot) inspect it,
// switch faults on and take HubSpot down for a while (`outage`).
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  CONTROL_PREFIX,
  FaultInjector,
  installFaultHook,
  registerControlRoutes,
  RequestCounter,
} from './fault-injection';
import type { FaultInput, FaultRule, LatencyRule } from './fault-injection';

export type { FaultInput, FaultRule, LatencyRule } from './fault-injection';

/** A contact property definition, as `GET /crm/v3/properties/contacts` lists it. */
export interface HubSpotProperty {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  description: string;
  options: { label: string; value: string; displayOrder: number; hidden: boolean }[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  calculated: boolean;
  externalOptions: boolean;
  hubspotDefined?: boolean;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean };
}

/** A contact property group, as `GET /crm/v3/properties/contacts/groups` lists it. */
export interface HubSpotPropertyGroup {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

/** A stored contact; property values are strings as in HubSpot. */
export interface HubSpotContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

/** A contact as the API returns it: requested properties without a value are null. */
export interface ContactView {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

/** A rolling-window limit such as HubSpot's 100 requests per 10 s for a free private app. */
export interface HubSpotRateLimit {
  max: number;
  intervalMs: number;
}

/** How to start the emulator; every field has a development default. */
export interface HubSpotEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** The private-app token to accept; default a random `pat-na1-…`. */
  accessToken?: string;
  /** Enforce a rolling-window limit; default off (headers still show 100 per 10 s). */
  rateLimit?: HubSpotRateLimit;
  /** Custom contact properties that exist from the start. */
  customProperties?: string[];
}

/** The contact property groups every HubSpot account starts with (a subset). */
export const BUILT_IN_PROPERTY_GROUPS: readonly { name: string; label: string }[] = [
  { name: 'contactinformation', label: 'Contact information' },
  { name: 'emailinformation', label: 'Email information' },
  { name: 'conversioninformation', label: 'Conversion information' },
  { name: 'socialmediainformation', label: 'Social media information' },
  { name: 'analyticsinformation', label: 'Web analytics history' },
  { name: 'sales_properties', label: 'Sales properties' },
];

/** What `GET /__emulator/state` and `state()` return. */
export interface HubSpotEmulatorState {
  contacts: HubSpotContact[];
  properties: string[];
  /** Contact property groups by name. */
  groups: string[];
  createdByEmail: Record<string, number>;
  counts: Record<string, number>;
  /** While HubSpot is down: until when (ISO time; `null` for until ended). */
  outage?: { until: string | null };
  faults: { faults: FaultRule[]; latencies: LatencyRule[] };
}

/** A running emulator with helpers for tests in the same process. */
export interface HubSpotEmulator {
  /** `http://127.0.0.1:PORT`, to be used as the SDK's `basePath`. */
  url: string;
  /** The private-app token the emulator accepts. */
  accessToken: string;
  /** The contact with this email (any case), or undefined. */
  contactByEmail(email: string): HubSpotContact | undefined;
  /** All contacts. */
  contacts(): HubSpotContact[];
  /** How many contacts were ever created for this email (any case); more than 1 means duplicates. */
  createdCount(email: string): number;
  /** Creates a custom contact property directly. */
  createProperty(name: string, label?: string): HubSpotProperty;
  /** Arms a fault or latency rule (same body as `POST /__emulator/faults`). */
  injectFault(rule: FaultInput): void;
  /** Disarms every fault and latency rule. */
  clearFaults(): void;
  /** Changes the enforced limit; `undefined` switches it off. Starts with an empty window. */
  setRateLimit(limit?: HubSpotRateLimit): void;
  /**
   * "HubSpot is down": every HubSpot route answers 503 for `durationMs` (default: until
   * `endOutage`), with `Retry-After` when `retryAfterSeconds` is given. Same as `POST /__emulator/outage`.
   */
  outage(opts?: { durationMs?: number; retryAfterSeconds?: number }): void;
  /** Ends an outage at once (`DELETE /__emulator/outage`). */
  endOutage(): void;
  /** The contact property definition, or undefined. */
  property(name: string): HubSpotProperty | undefined;
  /** The contact property group, or undefined. */
  group(name: string): HubSpotPropertyGroup | undefined;
  /** Forgets contacts, custom properties and groups beyond the initial ones, counts and faults. */
  reset(): void;
  /** Contacts, property names, creations per email, counts, faults. */
  state(): HubSpotEmulatorState;
  /** Requests per route key, e.g. `POST /crm/v3/objects/contacts/batch/upsert`. */
  readonly counts: Record<string, number>;
  close(): Promise<void>;
}

/** The properties of inviteflow that exist unless `customProperties` says otherwise. */
export const DEFAULT_CUSTOM_PROPERTIES = [
  'inviteflow_auth0_user_id',
  'inviteflow_invite_id',
  'inviteflow_invite_status',
  'inviteflow_utm_source',
  'inviteflow_utm_medium',
  'inviteflow_utm_campaign',
  'inviteflow_utm_term',
  'inviteflow_utm_content',
  'inviteflow_follow_up',
];

const NOMINAL_LIMIT: HubSpotRateLimit = { max: 100, intervalMs: 10_000 };

interface WindowState {
  allowed: boolean;
  max: number;
  remaining: number;
  intervalMs: number;
}

/** HubSpot's TEN_SECONDLY_ROLLING policy: at most `max` requests in any `intervalMs` window. */
class RollingWindowLimiter {
  private hits: number[] = [];
  private limit = NOMINAL_LIMIT;
  private enforced = false;

  constructor(limit?: HubSpotRateLimit) {
    this.configure(limit);
  }

  configure(limit?: HubSpotRateLimit): void {
    if (limit && !(limit.max > 0 && limit.intervalMs > 0))
      throw new Error('rate limit max and intervalMs must be positive');
    this.limit = limit ?? NOMINAL_LIMIT;
    this.enforced = limit !== undefined;
    this.hits = [];
  }

  take(now = Date.now()): WindowState {
    this.hits = this.hits.filter((t) => t > now - this.limit.intervalMs);
    const full = this.hits.length >= this.limit.max;
    if (full && this.enforced)
      return { allowed: false, max: this.limit.max, remaining: 0, intervalMs: this.limit.intervalMs };
    this.hits.push(now);
    return {
      allowed: true,
      max: this.limit.max,
      remaining: Math.max(0, this.limit.max - this.hits.length),
      intervalMs: this.limit.intervalMs,
    };
  }

  peek(): WindowState {
    const now = Date.now();
    const used = this.hits.filter((t) => t > now - this.limit.intervalMs).length;
    return {
      allowed: true,
      max: this.limit.max,
      remaining: Math.max(0, this.limit.max - used),
      intervalMs: this.limit.intervalMs,
    };
  }
}

function setRateLimitHeaders(reply: FastifyReply, state: WindowState): void {
  void reply
    .header('x-hubspot-ratelimit-interval-milliseconds', String(state.intervalMs))
    .header('x-hubspot-ratelimit-max', String(state.max))
    .header('x-hubspot-ratelimit-remaining', String(state.remaining));
}

/** HubSpot's error body (`category` for API errors; rate limits use `errorType`/`policyName`). */
function errorBody(
  message: string,
  category: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

function rateLimitBody(): Record<string, unknown> {
  return {
    status: 'error',
    message: 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: 'TEN_SECONDLY_ROLLING',
  };
}

/** An error answered with a HubSpot body. */
class HubSpotApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.message === 'string' ? body.message : 'error');
  }
}

function validationError(
  message: string,
  errors?: { message: string; code: string; context?: Record<string, string[]> }[],
): HubSpotApiError {
  return new HubSpotApiError(400, errorBody(message, 'VALIDATION_ERROR', errors ? { errors } : {}));
}

function property(name: string, label: string, extra: Partial<HubSpotProperty> = {}): HubSpotProperty {
  const now = new Date().toISOString();
  return {
    name,
    label,
    type: 'string',
    fieldType: 'text',
    groupName: 'contactinformation',
    description: '',
    options: [],
    displayOrder: -1,
    hasUniqueValue: false,
    hidden: false,
    formField: false,
    calculated: false,
    externalOptions: false,
    archived: false,
    createdAt: now,
    updatedAt: now,
    modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false },
    ...extra,
  };
}

function hubspotDefined(name: string, label: string, extra: Partial<HubSpotProperty> = {}): HubSpotProperty {
  return property(name, label, {
    hubspotDefined: true,
    formField: true,
    modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: false },
    ...extra,
  });
}

const READ_ONLY = { archivable: false, readOnlyDefinition: true, readOnlyValue: true };

function builtInProperties(): HubSpotProperty[] {
  const stages = [
    'subscriber',
    'lead',
    'marketingqualifiedlead',
    'salesqualifiedlead',
    'opportunity',
    'customer',
    'evangelist',
    'other',
  ];
  return [
    hubspotDefined('email', 'Email'),
    hubspotDefined('firstname', 'First Name'),
    hubspotDefined('lastname', 'Last Name'),
    hubspotDefined('company', 'Company Name'),
    hubspotDefined('phone', 'Phone Number'),
    hubspotDefined('jobtitle', 'Job Title'),
    hubspotDefined('website', 'Website URL'),
    hubspotDefined('city', 'City'),
    hubspotDefined('country', 'Country/Region'),
    hubspotDefined('hs_lead_status', 'Lead Status', {
      type: 'enumeration',
      fieldType: 'radio',
      groupName: 'sales_properties',
      options: ['NEW', 'OPEN', 'IN_PROGRESS', 'OPEN_DEAL', 'UNQUALIFIED', 'ATTEMPTED_TO_CONTACT', 'CONNECTED', 'BAD_TIMING'].map(
        (value, displayOrder) => ({ label: value, value, displayOrder, hidden: false }),
      ),
    }),
    hubspotDefined('lifecyclestage', 'Lifecycle Stage', {
      type: 'enumeration',
      fieldType: 'radio',
      options: stages.map((value, displayOrder) => ({ label: value, value, displayOrder, hidden: false })),
    }),
    hubspotDefined('hs_object_id', 'Record ID', {
      type: 'number',
      fieldType: 'number',
      formField: false,
      modificationMetadata: READ_ONLY,
    }),
    hubspotDefined('createdate', 'Create Date', {
      type: 'datetime',
      fieldType: 'date',
      formField: false,
      modificationMetadata: READ_ONLY,
    }),
    hubspotDefined('lastmodifieddate', 'Last Modified Date', {
      type: 'datetime',
      fieldType: 'date',
      formField: false,
      modificationMetadata: READ_ONLY,
    }),
  ];
}

const DEFAULT_RETURNED = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

const propertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const upsertBody = z.object({
  inputs: z
    .array(
      z.object({
        id: z.string().min(1),
        idProperty: z.string().min(1).optional(),
        objectWriteTraceId: z.string().optional(),
        properties: z.record(z.string(), propertyValue),
      }),
    )
    .min(1)
    .max(100),
});

const updateBody = z.object({
  objectWriteTraceId: z.string().optional(),
  properties: z.record(z.string(), propertyValue),
});

const outageBody = z.strictObject({
  durationMs: z.number().int().positive().max(3_600_000).optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});

const createPropertyBody = z.object({
  name: z
    .string()
    .regex(
      /^[a-z][a-z0-9_]*$/,
      'Property names must start with a letter and contain only lowercase letters, digits and underscores',
    ),
  label: z.string().min(1),
  type: z.enum(['string', 'number', 'date', 'datetime', 'enumeration', 'bool']),
  fieldType: z.enum([
    'textarea',
    'text',
    'date',
    'file',
    'number',
    'select',
    'radio',
    'checkbox',
    'booleancheckbox',
    'calculation_equation',
  ]),
  groupName: z.string().min(1),
  description: z.string().optional(),
  displayOrder: z.number().int().optional(),
  hasUniqueValue: z.boolean().optional(),
  hidden: z.boolean().optional(),
  formField: z.boolean().optional(),
  options: z
    .array(
      z.object({
        label: z.string(),
        value: z.string(),
        displayOrder: z.number().int().optional(),
        hidden: z.boolean().optional(),
      }),
    )
    .optional(),
});

const updatePropertyBody = z.object({
  label: z.string().min(1).optional(),
  description: z.string().optional(),
  groupName: z.string().min(1).optional(),
  displayOrder: z.number().int().optional(),
  hidden: z.boolean().optional(),
  formField: z.boolean().optional(),
});

const createGroupBody = z.object({
  name: z
    .string()
    .regex(
      /^[a-z][a-z0-9_]*$/,
      'Property group names must start with a letter and contain only lowercase letters, digits and underscores',
    ),
  label: z.string().min(1),
  displayOrder: z.number().int().optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw validationError(`Invalid input JSON: ${z.prettifyError(result.error)}`);
}

function queryList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  return items
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Starts a HubSpot emulator; resolves once it listens. */
export async function startHubSpotEmulator(opts: HubSpotEmulatorOptions = {}): Promise<HubSpotEmulator> {
  const accessToken = opts.accessToken ?? `pat-na1-${randomUUID()}`;
  const initialCustom = opts.customProperties ?? DEFAULT_CUSTOM_PROPERTIES;
  const limiter = new RollingWindowLimiter(opts.rateLimit);
  const faults = new FaultInjector();
  const counter = new RequestCounter();
  const properties = new Map<string, HubSpotProperty>();
  const groups = new Map<string, HubSpotPropertyGroup>();
  const contacts = new Map<string, HubSpotContact>();
  const byEmail = new Map<string, string>();
  const createdByEmail = new Map<string, number>();
  // HubSpot record ids are large numbers in strings.
  let nextId = 1_000_000_001;

  const seed = (): void => {
    groups.clear();
    BUILT_IN_PROPERTY_GROUPS.forEach(({ name, label }, displayOrder) =>
      groups.set(name, { name, label, displayOrder, archived: false }),
    );
    properties.clear();
    for (const p of builtInProperties()) properties.set(p.name, p);
    for (const name of initialCustom) properties.set(name, property(name, name));
    contacts.clear();
    byEmail.clear();
    createdByEmail.clear();
  };
  seed();

  const createProperty = (input: z.infer<typeof createPropertyBody>): HubSpotProperty => {
    if (properties.has(input.name)) {
      throw new HubSpotApiError(
        409,
        errorBody(`Property named '${input.name}' already exists.`, 'OBJECT_ALREADY_EXISTS'),
      );
    }
    // A property lives in a group; HubSpot refuses one whose group does not exist yet.
    if (!groups.has(input.groupName)) {
      throw validationError(`Property group '${input.groupName}' does not exist.`, [
        {
          message: `Property group '${input.groupName}' does not exist.`,
          code: 'INVALID_PROPERTY_GROUP',
          context: { groupName: [input.groupName] },
        },
      ]);
    }
    const created = property(input.name, input.label, {
      type: input.type,
      fieldType: input.fieldType,
      groupName: input.groupName,
      description: input.description ?? '',
      displayOrder: input.displayOrder ?? -1,
      hasUniqueValue: input.hasUniqueValue ?? false,
      hidden: input.hidden ?? false,
      formField: input.formField ?? false,
      options: (input.options ?? []).map((o, i) => ({
        label: o.label,
        value: o.value,
        displayOrder: o.displayOrder ?? i,
        hidden: o.hidden ?? false,
      })),
    });
    properties.set(created.name, created);
    return created;
  };

  // `PATCH /crm/v3/properties/contacts/{name}`: what a setup run or an admin changes of a definition.
  const updateProperty = (name: string, input: z.infer<typeof updatePropertyBody>): HubSpotProperty => {
    const found = properties.get(name);
    if (!found) throw new HubSpotApiError(404, errorBody(`Unable to find property ${name}`, 'OBJECT_NOT_FOUND'));
    if (found.modificationMetadata.readOnlyDefinition)
      throw validationError(`Property ${name} is a HubSpot-defined property; its definition cannot be changed.`);
    if (input.groupName !== undefined && !groups.has(input.groupName))
      throw validationError(`Property group '${input.groupName}' does not exist.`);
    const updated: HubSpotProperty = { ...found, ...input, updatedAt: new Date().toISOString() };
    properties.set(name, updated);
    return updated;
  };

  const createGroup = (input: z.infer<typeof createGroupBody>): HubSpotPropertyGroup => {
    if (groups.has(input.name)) {
      throw new HubSpotApiError(
        409,
        errorBody(`Property group named '${input.name}' already exists.`, 'OBJECT_ALREADY_EXISTS'),
      );
    }
    const created = { name: input.name, label: input.label, displayOrder: input.displayOrder ?? -1, archived: false };
    groups.set(created.name, created);
    return created;
  };

  const findContact = (id: string, idProperty: string | undefined): HubSpotContact | undefined => {
    if (idProperty === undefined || idProperty === 'hs_object_id') return contacts.get(id);
    if (idProperty === 'email') {
      const contactId = byEmail.get(id.trim().toLowerCase());
      return contactId ? contacts.get(contactId) : undefined;
    }
    return [...contacts.values()].find((c) => c.properties[idProperty] === id);
  };

  // HubSpot keeps emails lower-case, which is what makes lookups by email case-insensitive.
  const setProperties = (
    contact: HubSpotContact,
    values: Record<string, string | number | boolean | null>,
  ): void => {
    for (const [name, raw] of Object.entries(values)) {
      const value = raw === null ? '' : name === 'email' ? String(raw).trim().toLowerCase() : String(raw);
      if (name === 'email') {
        const previous = contact.properties.email;
        if (previous) byEmail.delete(previous);
        if (value) byEmail.set(value, contact.id);
      }
      if (value === '') delete contact.properties[name];
      else contact.properties[name] = value;
    }
    contact.properties.lastmodifieddate = contact.updatedAt;
  };

  const view = (contact: HubSpotContact, requested?: string[]): ContactView => {
    const names = requested
      ? [...new Set([...requested, 'hs_object_id', 'createdate', 'lastmodifieddate'])]
      : DEFAULT_RETURNED;
    // HubSpot answers requested properties that have no value as null, not by leaving them out.
    const props = Object.fromEntries(
      names.filter((n) => properties.has(n)).map((n) => [n, contact.properties[n] ?? null]),
    );
    return {
      id: contact.id,
      properties: props,
      createdAt: contact.createdAt,
      updatedAt: contact.updatedAt,
      archived: false,
    };
  };

  // Setting a property that does not exist, or a read-only one, is refused as HubSpot refuses it.
  const checkPropertyValues = (names: string[]): void => {
    const problems: { message: string; code: string; context: Record<string, string[]> }[] = [];
    for (const name of names) {
      const definition = properties.get(name);
      if (!definition)
        problems.push({
          message: `Property "${name}" does not exist`,
          code: 'PROPERTY_DOESNT_EXIST',
          context: { propertyName: [name] },
        });
      else if (definition.modificationMetadata.readOnlyValue) {
        problems.push({
          message: `"${name}" is a read only property; its value cannot be set.`,
          code: 'READ_ONLY_VALUE',
          context: { propertyName: [name] },
        });
      }
    }
    if (problems.length > 0) {
      const detail = problems.map((p) => ({
        isValid: false,
        message: p.message,
        error: p.code,
        name: p.context.propertyName?.[0],
      }));
      throw validationError(`Property values were not valid: ${JSON.stringify(detail)}`, problems);
    }
  };

  const contactNotFound = (id: string): HubSpotApiError =>
    new HubSpotApiError(
      404,
      errorBody('Object not found.  objectId are usually numeric.', 'OBJECT_NOT_FOUND', { context: { id: [id] } }),
    );

  // `PATCH /crm/v3/objects/contacts/{contactId}`: what a HubSpot user editing the contact does.
  const update = (id: string, idProperty: string | undefined, body: z.infer<typeof updateBody>): ContactView => {
    const contact = findContact(id, idProperty);
    if (!contact) throw contactNotFound(id);
    checkPropertyValues(Object.keys(body.properties));
    contact.updatedAt = new Date().toISOString();
    setProperties(contact, body.properties);
    return view(contact, Object.keys(body.properties));
  };

  const upsert = (body: z.infer<typeof upsertBody>): Record<string, unknown> => {
    const startedAt = new Date().toISOString();
    const seen = new Set<string>();
    const duplicates: string[] = [];
    for (const input of body.inputs) {
      const key = input.idProperty === 'email' ? input.id.trim().toLowerCase() : input.id;
      if (seen.has(key)) duplicates.push(input.id);
      seen.add(key);
      const idProp = input.idProperty ?? 'hs_object_id';
      const definition = properties.get(idProp);
      if (!definition || (idProp !== 'email' && idProp !== 'hs_object_id' && !definition.hasUniqueValue)) {
        throw validationError(
          `${idProp} is not a unique property of contacts and cannot be used as idProperty`,
        );
      }
      // Only an email can create a contact; other ids must name an existing one.
      if (idProp !== 'email' && !findContact(input.id, input.idProperty)) {
        throw new HubSpotApiError(
          404,
          errorBody('Object not found.  objectId are usually numeric.', 'OBJECT_NOT_FOUND', {
            context: { id: [input.id] },
          }),
        );
      }
    }
    if (duplicates.length > 0)
      throw validationError(
        `Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`,
      );
    checkPropertyValues(body.inputs.flatMap((input) => Object.keys(input.properties)));
    const results = body.inputs.map((input) => {
      const now = new Date().toISOString();
      let contact = findContact(input.id, input.idProperty);
      const isNew = contact === undefined;
      if (!contact) {
        const id = String(nextId++);
        contact = {
          id,
          properties: { hs_object_id: id, createdate: now },
          createdAt: now,
          updatedAt: now,
          archived: false,
        };
        contacts.set(id, contact);
        const email = input.id.trim().toLowerCase();
        createdByEmail.set(email, (createdByEmail.get(email) ?? 0) + 1);
        setProperties(contact, { email });
      }
      contact.updatedAt = now;
      const values =
        input.idProperty === 'email' ? { ...input.properties, email: input.id } : input.properties;
      setProperties(contact, values);
      return { ...view(contact, Object.keys(contact.properties)), new: isNew };
    });
    return { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() };
  };

  const app = Fastify({ logger: false });

  installFaultHook(app, {
    faults,
    counter,
    respond: (_request, reply, fault) => respondWithFault(reply, fault, limiter),
  });

  // An outage: every HubSpot route answers 503 until it ends; the control routes still answer.
  let outage: { until: number | undefined; retryAfterSeconds: number | undefined } | undefined;
  const down = (): boolean => {
    if (outage?.until !== undefined && outage.until <= Date.now()) outage = undefined;
    return outage !== undefined;
  };
  const startOutage = (input: z.infer<typeof outageBody>): void => {
    outage = {
      until: input.durationMs !== undefined ? Date.now() + input.durationMs : undefined,
      retryAfterSeconds: input.retryAfterSeconds,
    };
  };
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.url.startsWith(CONTROL_PREFIX) || !down()) return;
    return respondWithFault(
      reply,
      { status: 503, ...(outage?.retryAfterSeconds !== undefined ? { retryAfterSeconds: outage.retryAfterSeconds } : {}) },
      limiter,
    );
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.url.startsWith(CONTROL_PREFIX)) return;
    if (request.headers.authorization !== `Bearer ${accessToken}`) {
      return reply
        .code(401)
        .send(
          errorBody(
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
            'INVALID_AUTHENTICATION',
          ),
        );
    }
    const state = limiter.take();
    setRateLimitHeaders(reply, state);
    if (!state.allowed) return reply.code(429).send(rateLimitBody());
  });

  app.setErrorHandler((error: unknown, _request, reply) => {
    if (error instanceof HubSpotApiError) return reply.code(error.statusCode).send(error.body);
    const status =
      typeof error === 'object' &&
      error !== null &&
      'statusCode' in error &&
      typeof error.statusCode === 'number'
        ? error.statusCode
        : 500;
    if (status >= 400 && status < 500)
      return reply.code(400).send(errorBody('Invalid input JSON', 'VALIDATION_ERROR'));
    return reply.code(500).send(errorBody('internal error', 'INTERNAL_ERROR'));
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send(errorBody('Not Found', 'OBJECT_NOT_FOUND')),
  );

  app.post('/crm/v3/objects/contacts/batch/upsert', (request) => upsert(parse(upsertBody, request.body)));

  app.get<{ Params: { contactId: string }; Querystring: Record<string, unknown> }>(
    '/crm/v3/objects/contacts/:contactId',
    (request) => {
      const idProperty = typeof request.query.idProperty === 'string' ? request.query.idProperty : undefined;
      const contact = findContact(request.params.contactId, idProperty);
      if (!contact) throw contactNotFound(request.params.contactId);
      return view(contact, queryList(request.query.properties));
    },
  );

  app.patch<{ Params: { contactId: string }; Querystring: Record<string, unknown> }>(
    '/crm/v3/objects/contacts/:contactId',
    (request) => {
      const idProperty = typeof request.query.idProperty === 'string' ? request.query.idProperty : undefined;
      return update(request.params.contactId, idProperty, parse(updateBody, request.body));
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>('/crm/v3/properties/contacts', (request) => {
    const archived = request.query.archived === 'true';
    return { results: archived ? [] : [...properties.values()] };
  });

  app.get('/crm/v3/properties/contacts/groups', () => ({ results: [...groups.values()] }));

  app.get<{ Params: { groupName: string } }>('/crm/v3/properties/contacts/groups/:groupName', (request) => {
    const found = groups.get(request.params.groupName);
    if (!found)
      throw new HubSpotApiError(
        404,
        errorBody(`Unable to find property group ${request.params.groupName}`, 'OBJECT_NOT_FOUND'),
      );
    return found;
  });

  app.post('/crm/v3/properties/contacts/groups', async (request, reply) =>
    reply.code(201).send(createGroup(parse(createGroupBody, request.body))),
  );

  app.get<{ Params: { name: string } }>('/crm/v3/properties/contacts/:name', (request) => {
    const found = properties.get(request.params.name);
    if (!found)
      throw new HubSpotApiError(
        404,
        errorBody(`Unable to find property ${request.params.name}`, 'OBJECT_NOT_FOUND'),
      );
    return found;
  });

  app.patch<{ Params: { name: string } }>('/crm/v3/properties/contacts/:name', (request) =>
    updateProperty(request.params.name, parse(updatePropertyBody, request.body)),
  );

  app.post('/crm/v3/properties/contacts', async (request, reply) =>
    reply.code(201).send(createProperty(parse(createPropertyBody, request.body))),
  );

  const reset = (): void => {
    seed();
    counter.reset();
    faults.clear();
    outage = undefined;
  };
  const state = (): HubSpotEmulatorState => ({
    contacts: [...contacts.values()].map((c) => structuredClone(c)),
    properties: [...properties.keys()],
    groups: [...groups.keys()],
    createdByEmail: Object.fromEntries(createdByEmail),
    counts: counter.snapshot(),
    faults: faults.list(),
    ...(down()
      ? { outage: { until: outage?.until !== undefined ? new Date(outage.until).toISOString() : null } }
      : {}),
  });
  registerControlRoutes(app, { faults, state, reset });
  app.post(`${CONTROL_PREFIX}rate-limit`, async (request, reply) => {
    const body = (request.body ?? {}) as { max?: unknown; intervalMs?: unknown };
    try {
      limiter.configure(
        typeof body.max === 'number' && typeof body.intervalMs === 'number'
          ? { max: body.max, intervalMs: body.intervalMs }
          : undefined,
      );
    } catch (e) {
      return reply.code(400).send({ error: e instanceof Error ? e.message : 'invalid rate limit' });
    }
    return reply.code(204).send();
  });
  app.post(`${CONTROL_PREFIX}outage`, async (request, reply) => {
    const parsed = outageBody.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
    startOutage(parsed.data);
    return reply.code(204).send();
  });
  app.delete(`${CONTROL_PREFIX}outage`, async (_request, reply) => {
    outage = undefined;
    return reply.code(204).send();
  });

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

  return {
    url,
    accessToken,
    contactByEmail: (email) => {
      const id = byEmail.get(email.trim().toLowerCase());
      const contact = id ? contacts.get(id) : undefined;
      return contact ? structuredClone(contact) : undefined;
    },
    contacts: () => [...contacts.values()].map((c) => structuredClone(c)),
    createdCount: (email) => createdByEmail.get(email.trim().toLowerCase()) ?? 0,
    createProperty: (name, label = name) =>
      createProperty({ name, label, type: 'string', fieldType: 'text', groupName: 'contactinformation' }),
    property: (name) => {
      const found = properties.get(name);
      return found ? structuredClone(found) : undefined;
    },
    group: (name) => {
      const found = groups.get(name);
      return found ? { ...found } : undefined;
    },
    injectFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    setRateLimit: (limit) => limiter.configure(limit),
    outage: (input = {}) => startOutage(outageBody.parse(input)),
    endOutage: () => {
      outage = undefined;
    },
    reset,
    state,
    get counts() {
      return counter.snapshot();
    },
    close: () => app.close(),
  };
}

// A fault answers like HubSpot: a 429 with the rate-limit body and an exhausted window, other
// statuses with HubSpot's generic error body.
function respondWithFault(
  reply: FastifyReply,
  fault: FaultRule,
  limiter: RollingWindowLimiter,
): FastifyReply {
  if (fault.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(fault.retryAfterSeconds));
  const state = limiter.peek();
  if (fault.status === 429) {
    setRateLimitHeaders(reply, { ...state, remaining: 0 });
    return reply.code(429).send(rateLimitBody());
  }
  setRateLimitHeaders(reply, state);
  const category = fault.status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR';
  return reply
    .code(fault.status)
    .send(errorBody(fault.status >= 500 ? 'internal error' : 'Injected fault', category));
}
