/**
 * In-memory stand-ins for the activities, for workflow tests: they record every call and can be
 * told to fail (retryably or for good) or to hold until released.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { InviteActivities } from '../../activities';
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
  };
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
    /** Deletes a role from the fake tenant, as an administrator would in Auth0. */
    deleteRole(name: string) {
      deletedRoles.add(name);
    },
    /** Drops every failure plan and deleted role and releases every hold (between tests sharing one worker). */
    reset() {
      failures.clear();
      deletedRoles.clear();
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
