/**
 * One click note per link per `CLICK_NOTE_INTERVAL_MS`, whichever replica the reload lands on:
 * this process's memory answers first; otherwise the invite's own lifecycle says whether a click
 * on this link (named there by its email's number) was noted lately. Never awaited by the page.
 */
import type { FastifyRequest } from 'fastify';
import type { LinkClaims } from '../../../lib/token';
import type { InviteStatus } from '../../../workflows/messages';
import type { InviteGateway } from '../../invites-gateway';

const CLICK_NOTE_INTERVAL_MS = 10 * 60_000;
const MAX_CLICKS_REMEMBERED = 10_000;

/** Notes a click on a link (in the background). */
export type NoteClick = (request: FastifyRequest, link: LinkClaims, status: InviteStatus) => void;

export function clickNotes(gateway: InviteGateway): NoteClick {
  const clicks = new Map<string, number>();
  const remember = (jti: string, at: number) => {
    clicks.delete(jti);
    if (clicks.size >= MAX_CLICKS_REMEMBERED) clicks.delete(clicks.keys().next().value!);
    clicks.set(jti, at);
  };

  /** Whether the invite's lifecycle has a click on this email lately (then it is remembered). */
  const notedLately = async (link: LinkClaims, sequence: number | undefined, now: number) => {
    if (sequence === undefined) return false;
    const { events } = await gateway.history(link.inviteId);
    const lastClick = events.findLast((e) => e.type === 'clicked' && e.sequence === sequence);
    const at = lastClick ? Date.parse(lastClick.at) : NaN;
    if (!(now - at < CLICK_NOTE_INTERVAL_MS)) return false;
    remember(link.jti, at);
    return true;
  };

  return (request, link, status) => {
    const now = Date.now();
    const last = clicks.get(link.jti);
    if (last !== undefined && now - last < CLICK_NOTE_INTERVAL_MS) return;
    remember(link.jti, now);
    const sequence = status.emails.find((e) => e.linkId === link.jti)?.sequence;
    const noted = async () => {
      if (await notedLately(link, sequence, now)) {
        request.log.debug({ inviteId: link.inviteId }, 'click already noted');
        return;
      }
      await gateway.note(link.inviteId, { type: 'clicked', linkId: link.jti });
      request.log.debug({ inviteId: link.inviteId }, 'click noted');
    };
    gateway.background(() =>
      noted().catch((err: unknown) => {
        request.log.debug({ inviteId: link.inviteId, err }, 'click not noted');
      }),
    );
  };
}
