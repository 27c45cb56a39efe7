/**
 * The role check of the CLI's create paths (`create`, `bulk`), the API's own: names the Auth0
 * tenant does not have are refused (`unknown_role`), and Auth0 not answering stops the command
 * before anything is started (exit 4, `roles_unavailable`), never a silent accept.
 */
import { unknownNames, unknownNamesText } from './name-check';
import type { Session } from './session';

/** The names among `names` the tenant does not have; no request (and no Auth0 setting needed) without names. */
export function unknownRoles(session: Session, names: readonly string[]): Promise<Set<string>> {
  return unknownNames(names, async (asked) => (await session.roles()).unknownRoles(asked), {
    code: 'roles_unavailable',
    what: 'the roles of the Auth0 tenant',
  });
}

/** How a refusal names unknown roles: `no such role in Auth0: "a", "b"`. */
export function unknownRolesText(names: readonly string[]): string {
  return unknownNamesText('no such role in Auth0', names);
}
