/** `inviteflow list`: invites from Temporal visibility, with the API's filters and quoting. */
import { emailSearchKey } from '../../client/codec';
import { INVITE_STATES, InvalidFilterError, searchInvites, visibilityQuery } from '../../client/invite-search';
import type { InviteListFilter, InviteListItem } from '../../client/invite-search';
import { isValidEmail, normalizeEmail } from '../../workflows/input';
import type { InviteState } from '../../workflows/messages';
import { EXIT, jsonLine, line, table, usageError } from '../io';
import type { ExitCode } from '../io';
import { DEADLINES } from '../session';
import type { Session } from '../session';

/** Options of `list`, as commander parsed them. */
export interface ListOptions {
  status?: string;
  email?: string;
  scope?: string;
  limit: number;
}

/** Largest page visibility is asked for; `--limit` beyond it is fetched page by page. */
const PAGE_SIZE = 100;

/** Lists invites, newest first: a table, or one JSON object per line with `--json`. */
export async function listCommand(session: Session, opts: ListOptions): Promise<ExitCode> {
  let query: string;
  const filter = listFilter(opts);
  try {
    query = visibilityQuery(filter, emailSearchKey(session.config()));
  } catch (err) {
    if (err instanceof InvalidFilterError) throw usageError(err.message);
    throw err;
  }
  const items: InviteListItem[] = [];
  let token: Uint8Array | undefined;
  do {
    const pageSize = Math.min(PAGE_SIZE, opts.limit - items.length);
    const page = await session.call(DEADLINES.readMs, (client) =>
      searchInvites(client, query, pageSize, token, filter.email),
    );
    items.push(...page.items.slice(0, opts.limit - items.length));
    token = page.nextPageToken;
  } while (token && items.length < opts.limit);

  const { stdout, stderr } = session.io;
  if (session.json) {
    for (const item of items) jsonLine(stdout, item);
    return EXIT.ok;
  }
  if (items.length === 0) {
    // Visibility trails the workflows by a moment; say so, since "nothing" may be "not yet".
    line(stderr, 'No invites match (visibility can lag a few seconds behind a change).');
    return EXIT.ok;
  }
  line(
    stdout,
    table(
      ['ID', 'STATUS', 'EMAIL', 'SCOPE', 'EXPIRES'],
      items.map((item) => [
        item.id,
        statusText(item),
        // Visibility holds a keyed hash under payload encryption; `show` or --email names it.
        item.email ?? '(encrypted)',
        item.scope ?? '',
        item.expiresAt ?? '',
      ]),
    ),
  );
  return EXIT.ok;
}

function listFilter(opts: ListOptions): InviteListFilter {
  const filter: InviteListFilter = {};
  if (opts.status !== undefined) {
    if (!INVITE_STATES.includes(opts.status as InviteState)) {
      throw usageError(`--status must be one of ${INVITE_STATES.join(', ')}`);
    }
    filter.status = opts.status as InviteState;
  }
  if (opts.email !== undefined) {
    const email = normalizeEmail(opts.email);
    if (!isValidEmail(email)) throw usageError(`--email "${opts.email}" is not a valid email address`);
    filter.email = email;
  }
  if (opts.scope !== undefined) filter.scope = opts.scope;
  return filter;
}

/** The invite's state; a run ended from outside (terminated, timed out) says so. */
function statusText(item: InviteListItem): string {
  const status = item.status ?? '?';
  const ended = ['TERMINATED', 'TIMED_OUT', 'CANCELED'].includes(item.execution);
  return ended ? `${status} (${item.execution.toLowerCase().replace('_', ' ')})` : status;
}
