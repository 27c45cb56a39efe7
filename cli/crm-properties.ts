/**
 * The CRM property check of the CLI's create paths (`create`, `bulk`), the API's own: contact
 * properties HubSpot does not have are refused (`unknown_crm_property`), and HubSpot not answering
 * stops the command before anything is started (exit 4, `crm_properties_unavailable`), never a
 * silent accept.
 */
import { CrmPropertiesUnavailableError } from '../services/hubspot-properties';
import { CliError, EXIT } from './io';
import type { Session } from './session';

/** The names among `names` HubSpot does not have; no request (and no HubSpot setting needed) without names. */
export async function unknownCrmProperties(session: Session, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  try {
    return new Set(await (await session.crmProperties()).unknownProperties(names));
  } catch (err) {
    if (!(err instanceof CrmPropertiesUnavailableError)) throw err;
    throw new CliError(
      EXIT.unavailable,
      'crm_properties_unavailable',
      `Cannot read the contact properties of HubSpot to check them (retry in ${err.retryAfterSeconds} s); nothing was started`,
    );
  }
}

/** How a refusal names unknown properties: `no such contact property in HubSpot: "a", "b"`. */
export function unknownCrmPropertiesText(names: readonly string[]): string {
  return `no such contact property in HubSpot: ${names.map((name) => `"${name}"`).join(', ')}`;
}
