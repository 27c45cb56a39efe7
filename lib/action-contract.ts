/**
 * The wire contract between the Auth0 post-login Action, the API it calls and the customer space
 * that reads the tokens the Action shapes. Defined once here and imported by each side: the API's
 * schemas, the Action's parsing (bundled into its one file by `actions/build.ts`) and the customer
 * space's reading of the ID token. No imports, so every side can bundle it as it is.
 */

/** The custom claims the Action sets, each under the tenant's namespace (`CLAIM_NAMESPACE`). */
export const CLAIMS = {
  /** The roles the invite granted (string[]). */
  roles: 'roles',
  /** `{ id, scope, redirect? }` of the redeemed invite. */
  invite: 'invite',
  /** Our data bound to the invite (a JSON object). */
  data: 'data',
  /** Campaign/UTM fields, when the invite asked for them in the tokens. */
  attribution: 'attribution',
  /** The stable code of a refused or failed redemption (ID token only). */
  inviteError: 'invite_error',
  /** The invited address, when the invite refused this account for another email (ID token only). */
  inviteLoginHint: 'invite_login_hint',
} as const;

/** The name of a custom claim under a namespace such as `https://inviteflow.dev/`. */
export function claimName(namespace: string, claim: (typeof CLAIMS)[keyof typeof CLAIMS]): string {
  return `${namespace}${claim}`;
}
