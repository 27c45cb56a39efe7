/**
 * Rotation of the invite-link keys. The worker signs with one private key (LINK_SIGNING_KEY); the
 * API trusts a set of public keys (LINK_VERIFICATION_KEYS). A rotation goes: add the new public
 * key to the API's set and roll the API out, then switch the worker's signing key, then, once the
 * longest-lived link signed with the old key has expired (30 days, the maximum invite ttl),
 * retire the old public key. See docs/production.md.
 *
 * CLI (reads the current set from LINK_VERIFICATION_KEYS, and LINK_SIGNING_KEY if set):
 *   tsx scripts/setup/link-keys.ts generate [--kid <kid>]
 *   tsx scripts/setup/link-keys.ts retire --kid <kid>
 * Only `generate` prints a secret: the new private key, which exists nowhere else.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';
import { createLinkVerifier, generateLinkKey, publicLinkKey } from '../../lib/token';

/** The longest an invite (and so a link) can live; the old public key stays trusted this long. */
export const LONGEST_LINK_TTL_DAYS = 30;

/** What `addLinkKey` produces: the worker's new signing key and the API's new verification set. */
export interface LinkKeyRotation {
  /** The new private JWK, for the worker's LINK_SIGNING_KEY. */
  signingKey: JWK;
  /** The current public keys plus the new one, for the API's LINK_VERIFICATION_KEYS. */
  verificationKeys: JWK[];
  kid: string;
}

/** Parses and checks a LINK_VERIFICATION_KEYS value; empty or unset is an empty set. */
export function parseVerificationKeys(text: string | undefined): JWK[] {
  if (text === undefined || text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('LINK_VERIFICATION_KEYS must be a JSON array of public JWKs');
  }
  if (!Array.isArray(parsed)) throw new Error('LINK_VERIFICATION_KEYS must be a JSON array of public JWKs');
  const keys = parsed as JWK[];
  // The verifier refuses private keys, duplicate kids and anything but Ed25519: the same checks
  // the API applies at start-up, so a set printed here is one the API accepts.
  if (keys.length > 0) createLinkVerifier({ verificationKeys: keys, issuer: 'check', audience: 'check' });
  return keys;
}

/** The `kid` of a LINK_SIGNING_KEY value, or undefined when unset; never returns key material. */
export function signingKeyId(text: string | undefined): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const jwk = JSON.parse(text) as JWK;
    return typeof jwk.kid === 'string' ? jwk.kid : undefined;
  } catch {
    throw new Error('LINK_SIGNING_KEY must be a JSON private JWK');
  }
}

/**
 * Generates a new key and adds its public half to the set. The default kid names the day and a
 * thumbprint prefix, so an operator can tell from the set how old each key is.
 */
export async function addLinkKey(current: JWK[], kid?: string): Promise<LinkKeyRotation> {
  if (kid !== undefined && current.some((k) => k.kid === kid))
    throw new Error(`a verification key with kid "${kid}" already exists`);
  const generated = await generateLinkKey(kid);
  let keyId = generated.privateJwk.kid!;
  if (kid === undefined) {
    const thumbprint = await calculateJwkThumbprint(generated.publicJwk);
    keyId = `link-${new Date().toISOString().slice(0, 10)}-${thumbprint.slice(0, 8)}`;
  }
  const signingKey = { ...generated.privateJwk, kid: keyId };
  return { signingKey, verificationKeys: [...current, publicLinkKey(signingKey)], kid: keyId };
}

/**
 * The set without `kid`. Refuses to drop the last key or the key the worker signs with (when
 * known), either of which would make every live link fail.
 */
export function retireLinkKey(current: JWK[], kid: string, signingKid?: string): JWK[] {
  if (!current.some((k) => k.kid === kid)) throw new Error(`no verification key has kid "${kid}"`);
  if (kid === signingKid)
    throw new Error(`"${kid}" is the key LINK_SIGNING_KEY signs with; switch the worker to a new key first`);
  const remaining = current.filter((k) => k.kid !== kid);
  if (remaining.length === 0)
    throw new Error(`"${kid}" is the only verification key; generate its successor first`);
  return remaining;
}

// Single quotes suit a shell, a dotenv file and Compose alike; JWKs never contain one.
const envLine = (name: string, value: unknown): string => `${name}='${JSON.stringify(value)}'`;

/** Runs the CLI and returns what it prints; throws with a message for the operator on misuse. */
export async function runLinkKeys(argv: string[], env: Record<string, string | undefined>): Promise<string> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { kid: { type: 'string' } },
  });
  const command = positionals[0];
  const current = parseVerificationKeys(env.LINK_VERIFICATION_KEYS);

  if (command === 'generate') {
    const rotation = await addLinkKey(current, values.kid);
    const old = current.map((k) => k.kid).join(', ');
    return [
      `# New link key "${rotation.kid}".`,
      '# 1. API first: set this on every api instance and roll them out, so links signed with the',
      '#    new key verify everywhere before the first one is sent.',
      envLine('LINK_VERIFICATION_KEYS', rotation.verificationKeys),
      '# 2. Then the worker: store this private key in your secret manager (never in git or logs)',
      '#    as LINK_SIGNING_KEY and roll the worker out.',
      envLine('LINK_SIGNING_KEY', rotation.signingKey),
      ...(current.length > 0
        ? [
            `# 3. ${LONGEST_LINK_TTL_DAYS} days after step 2 (the longest invite ttl), retire the old key(s) (${old}):`,
            `#    tsx scripts/setup/link-keys.ts retire --kid <kid>`,
          ]
        : []),
      '',
    ].join('\n');
  }

  if (command === 'retire') {
    if (!values.kid) throw new Error('retire needs --kid <kid>');
    const remaining = retireLinkKey(current, values.kid, signingKeyId(env.LINK_SIGNING_KEY));
    return [
      `# Verification keys without "${values.kid}"; set on every api instance. Links signed with it stop`,
      `# working, so only retire it ${LONGEST_LINK_TTL_DAYS} days after the worker stopped signing with it.`,
      envLine('LINK_VERIFICATION_KEYS', remaining),
      '',
    ].join('\n');
  }

  throw new Error('usage: link-keys.ts generate [--kid <kid>] | retire --kid <kid>');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runLinkKeys(process.argv.slice(2), process.env)
    .then((out) => process.stdout.write(out))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
