/**
 * Every `patched()` decision of the invite workflow, in one place and by name. Each patch records
 * a marker and, through the SDK, upserts `TemporalChangeVersion` in the first task of the run, so
 * the order of the calls below is part of the recorded histories: change it only with a new patch.
 */
import { patched } from '@temporalio/workflow';

/** The code paths a run takes, decided once at its start. */
export interface Versions {
  /**
   * Skip an upsert of search attributes that would change nothing (the start already set them,
   * and most emails leave them as they are). Runs recorded before it upserted on every publish.
   */
  skipUnchangedUpserts: boolean;
  /** Tell the funnel when the invite completes or fails. Runs recorded before the webhook tell nobody. */
  notifyOnClose: boolean;
  /** Escalate an invite still pending close to its expiry. Runs recorded before it have no escalation timer. */
  escalation: boolean;
  /** Send reminders in the invitee's daytime. Runs recorded before it send one the moment it is due. */
  sendWindows: boolean;
  /**
   * Upsert the HubSpot contact at creation (its id and properties then reach the first token), and
   * grant by the invite's account policy. Runs recorded before it grant the redeeming account alone
   * and meet HubSpot only after a redemption.
   */
  crmAndAccounts: boolean;
}

/**
 * Asks the patches, in the order the recorded histories asked them. New runs record one marker,
 * `invite-v2`, which stands for the four changes; a run recorded before it gets false from it on
 * replay and asks the four one by one. A change made from now on gets a patch of its own, asked
 * after these, as `crm-and-accounts` is (docs/versioning.md, "Fold patches that pile up").
 */
export function decideVersions(): Versions {
  const v2 = patched('invite-v2');
  // An object literal evaluates its properties in order: the calls happen in the order written.
  return {
    skipUnchangedUpserts: v2 || patched('skip-unchanged-search-attributes'),
    notifyOnClose: v2 || patched('funnel-webhook'),
    escalation: v2 || patched('stale-escalation'),
    sendWindows: v2 || patched('send-windows'),
    crmAndAccounts: patched('crm-and-accounts'),
  };
}
