/**
 * The CRM property check of the CLI's create paths (`create`, `bulk`), the API's own: contact
 * properties HubSpot does not have are refused (`unknown_crm_property`), and HubSpot not answering
 * stops the command before anything is started (exit 4, `crm_properties_unavailable`), never a
 * silent accept.
 */
import { unknownNames, unknownNamesText } from './name-check';
import type { Session } from './session';

/** The names among `names` HubSpot does not have; no request (and no HubSpot setting needed) without names. */
export function unknownCrmProperties(session: Session, names: readonly string[]): Promise<Set<string>> {
  return unknownNames(names, async (asked) => (await session.crmProperties()).unknownProperties(asked), {
    code: 'crm_properties_unavailable',
    what: 'the contact properties of HubSpot',
  });
}

/** How a refusal names unknown properties: `no such contact property in HubSpot: "a", "b"`. */
export function unknownCrmPropertiesText(names: readonly string[]): string {
  return unknownNamesText('no such contact property in HubSpot', names);
}
