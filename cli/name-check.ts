/**
 * What the CLI's checks of names against an outside service's names (`./roles`, `./crm-properties`)
 * share: the service not answering stops the command before anything is started (exit 4, never a
 * silent accept), and a refusal quotes the unknown names.
 */
import { CatalogueUnavailableError } from '../services/name-catalogue';
import { CliError, EXIT } from './io';

/** How a check names its service when that service does not answer. */
export interface Unavailable {
  /** The CLI error code (`roles_unavailable`). */
  code: string;
  /** What could not be read (`the roles of the Auth0 tenant`). */
  what: string;
}

/**
 * The names among `names` that `ask` reports unknown; `ask` is not called (so nothing needs to be
 * configured) without names. A `CatalogueUnavailableError` becomes the `unavailable` CLI error.
 */
export async function unknownNames(
  names: readonly string[],
  ask: (names: readonly string[]) => Promise<string[]>,
  unavailable: Unavailable,
): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  try {
    return new Set(await ask(names));
  } catch (err) {
    if (!(err instanceof CatalogueUnavailableError)) throw err;
    throw new CliError(
      EXIT.unavailable,
      unavailable.code,
      `Cannot read ${unavailable.what} to check them (retry in ${err.retryAfterSeconds} s); nothing was started`,
    );
  }
}

/** `<refusal>: "a", "b"`. */
export function unknownNamesText(refusal: string, names: readonly string[]): string {
  return `${refusal}: ${names.map((name) => `"${name}"`).join(', ')}`;
}
