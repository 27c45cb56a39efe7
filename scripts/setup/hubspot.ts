/**
 * HubSpot account setup: the custom contact properties the worker writes
 * (`HUBSPOT_CONTACT_PROPERTIES`), in a property group `inviteflow`. Idempotent: what exists is
 * left alone, so it can run on every deploy; only the label and description of our own
 * properties (in our group) are brought up to date when they changed.
 *
 * CLI: `tsx scripts/setup/hubspot.ts`, with HUBSPOT_ACCESS_TOKEN (a private app with
 * `HUBSPOT_PRIVATE_APP_SCOPES`) and, for the local emulator only, HUBSPOT_BASE_PATH.
 */
import { pathToFileURL } from 'node:url';
import type { Client } from '@hubspot/api-client';
import {
  PropertyCreateFieldTypeEnum,
  PropertyCreateTypeEnum,
} from '@hubspot/api-client/lib/codegen/crm/properties/models/PropertyCreate';
import { z } from 'zod';
import { HUBSPOT_CONTACT_PROPERTIES } from '../../activities/hubspot';
import { createHubSpotClient } from '../../services/hubspot';

/**
 * Scopes of the private app: the worker upserts contacts (`crm.objects.contacts.*`); this script
 * reads and creates property definitions (`crm.schemas.contacts.*`).
 */
export const HUBSPOT_PRIVATE_APP_SCOPES = [
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
] as const;

/** The property group our properties are shown under in HubSpot. */
export const PROPERTY_GROUP = { name: 'inviteflow', label: 'inviteflow' } as const;

/** Label and description of each property; all are single-line text, which every value fits. */
export const PROPERTY_DEFINITIONS: Record<
  keyof typeof HUBSPOT_CONTACT_PROPERTIES,
  { label: string; description: string }
> = {
  auth0UserId: {
    label: 'Auth0 user id',
    description: 'The Auth0 account that redeemed the inviteflow invite (e.g. auth0|…, google-oauth2|…).',
  },
  inviteId: {
    label: 'Invite id',
    description:
      'The inviteflow invite of this contact, set when the invite is created and kept when it is redeemed; the Temporal workflow is invite-<id>.',
  },
  inviteStatus: {
    label: 'Invite status',
    description:
      'State of the inviteflow invite: invited when the invite is created (the contact is upserted then, before anyone clicks), ' +
      'then redeemed and the later states as the invite goes on.',
  },
  utmSource: { label: 'Invite utm_source', description: 'utm_source the funnel gave the inviteflow invite of this contact (set when the invite is created).' },
  utmMedium: { label: 'Invite utm_medium', description: 'utm_medium the funnel gave the inviteflow invite of this contact (set when the invite is created).' },
  utmCampaign: { label: 'Invite utm_campaign', description: 'utm_campaign the funnel gave the inviteflow invite of this contact (set when the invite is created).' },
  utmTerm: { label: 'Invite utm_term', description: 'utm_term the funnel gave the inviteflow invite of this contact (set when the invite is created).' },
  utmContent: { label: 'Invite utm_content', description: 'utm_content the funnel gave the inviteflow invite of this contact (set when the invite is created).' },
  followUp: {
    label: 'Invite follow-up',
    description: 'stale_invite when the inviteflow invite was still pending close to its expiry: worth a personal follow-up.',
  },
};

const CONTACTS = 'contacts';

/** What one setup step found or did. */
export interface HubSpotSetupStep {
  kind: 'property group' | 'property';
  name: string;
  /** `updated`: one of ours whose label or description was brought up to date. */
  outcome: 'created' | 'present' | 'updated';
  /** Set when something exists but differs from what we would have created. */
  note?: string;
}

/** Status code of an `@hubspot/api-client` error (its class is not exported), if any. */
function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number'
    ? error.code
    : undefined;
}

/** Creates the property group and the contact properties that are missing; returns each step. */
export async function setupHubSpot(hubspot: Client): Promise<HubSpotSetupStep[]> {
  const steps: HubSpotSetupStep[] = [];
  const { properties: api } = hubspot.crm;

  const groups = await api.groupsApi.getAll(CONTACTS);
  if (groups.results.some((g) => g.name === PROPERTY_GROUP.name)) {
    steps.push({ kind: 'property group', name: PROPERTY_GROUP.name, outcome: 'present' });
  } else {
    try {
      await api.groupsApi.create(CONTACTS, { ...PROPERTY_GROUP, displayOrder: -1 });
      steps.push({ kind: 'property group', name: PROPERTY_GROUP.name, outcome: 'created' });
    } catch (error) {
      // Another run created it between our read and our write.
      if (statusOf(error) !== 409) throw error;
      steps.push({ kind: 'property group', name: PROPERTY_GROUP.name, outcome: 'present' });
    }
  }

  const existing = new Map((await api.coreApi.getAll(CONTACTS)).results.map((p) => [p.name, p]));
  for (const [key, name] of Object.entries(HUBSPOT_CONTACT_PROPERTIES) as [
    keyof typeof HUBSPOT_CONTACT_PROPERTIES,
    string,
  ][]) {
    const found = existing.get(name);
    const wanted = PROPERTY_DEFINITIONS[key];
    if (found && found.groupName === PROPERTY_GROUP.name && (found.label !== wanted.label || found.description !== wanted.description)) {
      // One of ours from an earlier version: its text says what the worker writes now.
      await api.coreApi.update(CONTACTS, name, { label: wanted.label, description: wanted.description });
      steps.push({ kind: 'property', name, outcome: 'updated' });
      continue;
    }
    if (found) {
      const note =
        found.type === 'string' ? undefined : `has type "${found.type}"; the worker writes text values`;
      steps.push({ kind: 'property', name, outcome: 'present', ...(note ? { note } : {}) });
      continue;
    }
    try {
      await api.coreApi.create(CONTACTS, {
        name,
        ...PROPERTY_DEFINITIONS[key],
        type: PropertyCreateTypeEnum.String,
        fieldType: PropertyCreateFieldTypeEnum.Text,
        groupName: PROPERTY_GROUP.name,
        formField: false,
      });
      steps.push({ kind: 'property', name, outcome: 'created' });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      // 409 without the property in the (unarchived) list means it was archived: HubSpot keeps
      // the name taken, and upserts naming it fail until someone restores it.
      const live = await api.coreApi.getByName(CONTACTS, name).catch(() => undefined);
      if (!live)
        throw new Error(
          `HubSpot contact property "${name}" exists but is archived; restore it in Settings › Properties › Archived`,
          { cause: error },
        );
      steps.push({ kind: 'property', name, outcome: 'present' });
    }
  }
  return steps;
}

const setupEnv = z.object({
  HUBSPOT_ACCESS_TOKEN: z.string().min(1),
  /** Only for local emulators: replaces https://api.hubapi.com. */
  HUBSPOT_BASE_PATH: z.url({ protocol: /^https?$/ }).optional(),
});

/** Runs the CLI and returns what it prints; errors name variables and statuses, never the token. */
export async function runHubSpotSetup(env: Record<string, string | undefined>): Promise<string> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = setupEnv.safeParse(cleaned);
  if (!parsed.success)
    throw new Error(
      `invalid configuration:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`,
    );
  const hubspot = createHubSpotClient({
    accessToken: parsed.data.HUBSPOT_ACCESS_TOKEN,
    ...(parsed.data.HUBSPOT_BASE_PATH ? { basePath: parsed.data.HUBSPOT_BASE_PATH } : {}),
  });
  let steps: HubSpotSetupStep[];
  try {
    steps = await setupHubSpot(hubspot);
  } catch (error) {
    const status = statusOf(error);
    if (status === 401)
      throw new Error('HubSpot refused HUBSPOT_ACCESS_TOKEN (401): check the private app token', {
        cause: error,
      });
    if (status === 403)
      throw new Error(
        `HubSpot refused a call (403): the private app needs the scopes ${HUBSPOT_PRIVATE_APP_SCOPES.join(', ')}`,
        {
          cause: error,
        },
      );
    throw error;
  }
  return [
    ...steps.map((s) => `${s.outcome.padEnd(8)} ${s.kind} ${s.name}${s.note ? ` (${s.note})` : ''}`),
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runHubSpotSetup(process.env)
    .then((out) => process.stdout.write(out))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
