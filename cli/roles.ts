/**
 * The role check of the CLI's create paths (`create`, `bulk`), the API's own: names the Auth0
 * tenant does not have are refused (`unknown_role`), and Auth0 not answering stops the command
 * before anything is started (exit 4, `roles_unavailable`), never a silent accept.
 */
import { RolesUnavailableError } from '../services/auth0-roles';
import { CliError, EXIT } from './io';
import type { Session } from './session';

/** The names among `names` the tenant does not have; no request (and no Auth0 setting needed) without names. */
export async function unknownRoles(session: Session, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  try {
    return new Set(await (await session.roles()).unknownRoles(names));
  } catch (err) {
    if (!(err instanceof RolesUnavailableError)) throw err;
    throw new CliError(
      EXIT.unavailable,
      'roles_unavailable',
      `Cannot read the roles of the Auth0 tenant to check them (retry in ${err.retryAfterSeconds} s); nothing was started`,
    );
  }
}

/** How a refusal names unknown roles: `no such role in Auth0: "a", "b"`. */
export function unknownRolesText(names: readonly string[]): string {
  return `no such role in Auth0: ${names.map((name) => `"${name}"`).join(', ')}`;
}
