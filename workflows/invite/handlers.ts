/**
 * The invite's messages, each wired in one line: queries read the state, validators ask its
 * checks (a refused update never reaches history and never consumes the invite), handlers run a
 * transition and let the effects make it known.
 */
import { setHandler } from '@temporalio/workflow';
import {
  auditSignal,
  claimUpdate,
  declineSignal,
  deliveryFailedSignal,
  extendUpdate,
  historyQuery,
  linkIssuedQuery,
  redeemUpdate,
  resendUpdate,
  revokeUpdate,
  statusQuery,
} from '../messages';
import type { ClaimInput, RedeemInput } from '../messages';
import type { Effects } from './effects';
import type { Invite } from './state';

/** Registers every handler, in the order the run always registered them. */
export function registerHandlers(state: Invite, effects: Effects): void {
  setHandler(statusQuery, () => state.status);
  setHandler(linkIssuedQuery, (linkId) => state.linkIssued(linkId));
  setHandler(historyQuery, () => state.history());
  setHandler(auditSignal, (note) => state.audit(note, Date.now()));
  setHandler(redeemUpdate, (req) => effects.answer(state.redeem(req.user, req.linkId, Date.now())), { validator: (req: RedeemInput) => state.checkRedeem(req, Date.now()) });
  setHandler(claimUpdate, (req) => effects.answer(state.claim(req.user, Date.now())), { validator: (req: ClaimInput) => state.checkClaim(req, Date.now()) });
  setHandler(revokeUpdate, ({ reason }) => effects.apply(state.revoke(reason, Date.now())), { validator: (_req) => state.checkOpen(Date.now()) });
  setHandler(resendUpdate, () => effects.resend(), { validator: () => state.checkResend(Date.now()) });
  setHandler(extendUpdate, ({ ttl }) => effects.extend(ttl), { validator: ({ ttl }) => state.checkExtend(ttl, Date.now()) });
  setHandler(deliveryFailedSignal, (failure) => effects.announce(state.deliveryFailed(failure, Date.now())));
  setHandler(declineSignal, () => effects.apply(state.decline(Date.now())));
}
