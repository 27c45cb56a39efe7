/**
 * In-memory stand-ins for the activities, for workflow tests: they record every call and can be
 * told to fail (retryably or for good) or to hold until released.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { InviteActivities } from '../../activities';
import type { Auth0Account } from '../../activities/auth0';
import { InviteErrorType } from '../../workflows/errors';

type Input<K extends keyof InviteActivities> = Parameters<InviteActivities[K]>[0];

/** A failure plan for one activity: fail the next `times` calls with this error. */
export interface FailurePlan {
  times: number;
  retryable: boolean;
  type?: InviteErrorType;
}

/** The fake activities and what they saw. */
export function fakeActivities() {
  const calls = {
    emails: [] as Input<'sendInviteEmail'>[],
    roles: [] as Input<'assignAuth0Roles'>[],
    metadata: [] as Input<'writeAuth0AppMetadata'>[],
    verified: [] as Input<'markAuth0EmailVerified'>[],
    hubspot: [] as Input<'linkHubSpotContact'>[],
    webhooks: [] as Input<'notifyFunnel'>[],
    escalations: [] as Input<'sendEscalationEmail'>[],
    stale: [] as Input<'markHubSpotInviteStale'>[],
    invitees: [] as Input<'upsertHubSpotInvitee'>[],
    finds: [] as Input<'findAuth0Accounts'>[],
    links: [] as Input<'linkAuth0Accounts'>[],
  };
  /** The fake tenant's users by email (`findAuth0Accounts`); linking moves a secondary into its primary. */
  let accounts: Auth0Account[] = [];
  /** User ids Auth0 refuses to link for good. */
  const unlinkable = new Set<string>();
  /** The fake HubSpot contact's own properties (`upsertHubSpotInvitee` reads them). */
  let contactProperties: Record<string, string> = {};
  const failures = new Map<keyof InviteActivities, FailurePlan>();
  /** Role names the fake tenant no longer has (`assignAuth0Roles` reports them missing). */
  const deletedRoles = new Set<string>();
  const holds = new Map<keyof InviteActivities, Promise<void>>();
  const releases = new Set<() => void>();
  const attempts = new Map<keyof InviteActivities, number>();

  const step = async (name: keyof InviteActivities) => {
    attempts.set(name, (attempts.get(name) ?? 0) + 1);
    await holds.get(name);
    const plan = failures.get(name);
    if (plan && plan.times > 0) {
      plan.times--;
      throw ApplicationFailure.create({
        type: plan.type ?? (plan.retryable ? InviteErrorType.Transient : InviteErrorType.Permanent),
        message: `${name} failed (injected)`,
        nonRetryable: !plan.retryable,
        nextRetryDelay: plan.retryable ? '1 second' : undefined,
      });
    }
  };

  const activities: InviteActivities = {
    async sendInviteEmail(input) {
      await step('sendInviteEmail');
      calls.emails.push(input);
      return { messageId: `<${input.inviteId}.${input.sequence}@test>`, acceptedAt: new Date().toISOString() };
    },
    async assignAuth0Roles(input) {
      await step('assignAuth0Roles');
      calls.roles.push(input);
      const missing = input.roles.filter((r) => deletedRoles.has(r));
      return { roleIds: input.roles.filter((r) => !deletedRoles.has(r)).map((r) => `rol_${r}`), missing };
    },
    async writeAuth0AppMetadata(input) {
      await step('writeAuth0AppMetadata');
      calls.metadata.push(input);
    },
    async markAuth0EmailVerified(input) {
      await step('markAuth0EmailVerified');
      calls.verified.push(input);
    },
    async linkHubSpotContact(input) {
      await step('linkHubSpotContact');
      calls.hubspot.push(input);
      return { contactId: '101' };
    },
    async upsertHubSpotInvitee(input) {
      await step('upsertHubSpotInvitee');
      calls.invitees.push(input);
      if (input.properties.length === 0) return { contactId: '101' };
      return { contactId: '101', crm: Object.fromEntries(input.properties.map((name) => [name, contactProperties[name] ?? null])) };
    },
    async findAuth0Accounts(input) {
      await step('findAuth0Accounts');
      calls.finds.push(input);
      return accounts.filter((account) => account.email === input.email).map((account) => structuredClone(account));
    },
    async linkAuth0Accounts(input) {
      await step('linkAuth0Accounts');
      calls.links.push(input);
      const primary = accounts.find((account) => account.userId === input.primaryUserId);
      const linked: string[] = [];
      for (const userId of input.secondaryUserIds) {
        if (!primary?.identities.includes(userId)) {
          if (unlinkable.has(userId) || !primary) return { linked, refused: { userId, reason: 'auth0 400: linking refused (injected)' } };
          primary.identities.push(userId);
          accounts = accounts.filter((account) => account.userId !== userId);
        }
        linked.push(userId);
      }
      return { linked };
    },
    async sendEscalationEmail(input) {
      await step('sendEscalationEmail');
      calls.escalations.push(input);
      return { messageId: `<escalation.${input.inviteId}@test>`, acceptedAt: new Date().toISOString() };
    },
    async markHubSpotInviteStale(input) {
      await step('markHubSpotInviteStale');
      calls.stale.push(input);
      return { contactId: '101' };
    },
    async notifyFunnel(input) {
      await step('notifyFunnel');
      calls.webhooks.push(input);
      return { delivered: true, status: 204 };
    },
  };

  return {
    activities,
    calls,
    attempts,
    /** Makes the next `plan.times` calls of `name` fail. */
    fail(name: keyof InviteActivities, plan: FailurePlan) {
      failures.set(name, { ...plan });
    },
    /** The fake tenant's users (what `findAuth0Accounts` finds by email). */
    setAccounts(list: Auth0Account[]) {
      accounts = structuredClone(list);
    },
    /** The fake tenant's users now (after any linking). */
    accounts(): Auth0Account[] {
      return structuredClone(accounts);
    },
    /** Makes Auth0 refuse for good to link this user. */
    refuseLink(userId: string) {
      unlinkable.add(userId);
    },
    /** Sets the fake HubSpot contact's own properties. */
    setContactProperties(properties: Record<string, string>) {
      contactProperties = { ...properties };
    },
    /** Deletes a role from the fake tenant, as an administrator would in Auth0. */
    deleteRole(name: string) {
      deletedRoles.add(name);
    },
    /** Drops every failure plan and deleted role and releases every hold (between tests sharing one worker). */
    reset() {
      failures.clear();
      deletedRoles.clear();
      accounts = [];
      unlinkable.clear();
      contactProperties = {};
      for (const release of [...releases]) release();
    },
    /** Makes calls of `name` wait until the returned function is called. */
    hold(name: keyof InviteActivities): () => void {
      let resolveHold!: () => void;
      const held = new Promise<void>((resolve) => (resolveHold = resolve));
      holds.set(name, held);
      const release = () => {
        if (holds.get(name) === held) holds.delete(name);
        releases.delete(release);
        resolveHold();
      };
      releases.add(release);
      return release;
    },
  };
}
