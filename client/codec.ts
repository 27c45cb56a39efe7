/**
 * Encryption of everything the invite workflow puts into Temporal (inputs, results, activity
 * arguments, query answers, failure details and, through `failure-converter.cjs`, failure messages):
 * a `PayloadCodec` with AES-256-GCM. Each payload
 * names the key that encrypted it, so keys rotate: encrypt with the current key, decrypt with any
 * key still configured. Search attributes are not payloads a codec sees; `emailSearchValue` keeps
 * the email out of them.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import type * as Proto from '@temporalio/proto';

// The proto package is CommonJS whose named exports Node's ESM loader cannot see (under tsx).
const { temporal } = createRequire(import.meta.url)('@temporalio/proto') as typeof Proto;

/** `metadata.encoding` of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key that encrypted a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** One configured key: `key` is 32 bytes, base64. */
export interface PayloadKey {
  id: string;
  key: string;
}

/** Why a payload could not be decrypted; `code` is stable. */
export class PayloadCodecError extends Error {
  constructor(
    readonly code: 'ERR_PAYLOAD_UNKNOWN_KEY' | 'ERR_PAYLOAD_DECRYPT' | 'ERR_PAYLOAD_KEYS',
    message: string,
  ) {
    super(message);
    this.name = 'PayloadCodecError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Checks a key list (ids unique and non-empty, keys 32 bytes of base64) and decodes the keys. */
export function decodePayloadKeys(keys: readonly PayloadKey[]): Map<string, Buffer> {
  if (keys.length === 0) throw new PayloadCodecError('ERR_PAYLOAD_KEYS', 'at least one payload key is needed');
  const decoded = new Map<string, Buffer>();
  for (const { id, key } of keys) {
    if (!id) throw new PayloadCodecError('ERR_PAYLOAD_KEYS', 'every payload key needs an id');
    if (decoded.has(id)) throw new PayloadCodecError('ERR_PAYLOAD_KEYS', `payload key id "${id}" appears twice`);
    const bytes = Buffer.from(key, 'base64');
    if (bytes.length !== KEY_BYTES || bytes.toString('base64').replace(/=+$/, '') !== key.replace(/=+$/, '')) {
      throw new PayloadCodecError('ERR_PAYLOAD_KEYS', `payload key "${id}" must be 32 bytes in base64`);
    }
    decoded.set(id, bytes);
  }
  return decoded;
}

/** AES-256-GCM codec; the first key encrypts, every key decrypts. */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  private readonly currentId: string;

  constructor(keys: readonly PayloadKey[]) {
    this.keys = decodePayloadKeys(keys);
    this.currentId = keys[0]!.id;
  }

  /** Id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.currentId;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
      // The key id is authenticated too: relabelling a payload with another key id fails.
      cipher.setAAD(encoder.encode(this.currentId));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: encoder.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: encoder.encode(this.currentId) },
        data,
      };
    }));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => payloads.map((payload) => {
      // Payloads written before encryption was turned on stay readable.
      if (!payload.metadata?.encoding || decoder.decode(payload.metadata.encoding) !== ENCRYPTED_ENCODING) return payload;
      const rawId = payload.metadata[KEY_ID_METADATA];
      const keyId = rawId ? decoder.decode(rawId) : '';
      const key = this.keys.get(keyId);
      if (!key) {
        throw new PayloadCodecError('ERR_PAYLOAD_UNKNOWN_KEY', `payload encrypted with unknown key id "${keyId}"; add it to PAYLOAD_KEYS`);
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadCodecError('ERR_PAYLOAD_DECRYPT', 'encrypted payload is truncated');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAAD(encoder.encode(keyId));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(plain);
      } catch {
        throw new PayloadCodecError('ERR_PAYLOAD_DECRYPT', `payload failed authentication with key "${keyId}" (tampered or wrong key)`);
      }
    }));
  }
}

// A codec refuses by rejecting, never by throwing synchronously at its caller.
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Module of the failure converter used while encryption is on (`DefaultFailureConverter` with
 * `encodeCommonAttributes`): failure messages and stack traces become an encrypted payload.
 * Workers bundling workflows themselves pick it up from the data converter; a prebuilt bundle
 * must be built with it (`bundleWorkflowCode({ failureConverterPath })`).
 */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * The data converter every client and worker of a process uses: with keys, payloads are
 * encrypted and failure messages encoded into them; without keys (encryption turned off on
 * purpose), the SDK's defaults.
 */
export function payloadDataConverter(keys: readonly PayloadKey[] | undefined): DataConverter {
  return keys && keys.length > 0 ? { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH } : {};
}

/** A fresh key list of one key (`id` names it in each payload), as `PAYLOAD_KEYS` holds it. */
export function generatePayloadKeys(id: string): PayloadKey[] {
  return [{ id, key: randomBytes(KEY_BYTES).toString('base64') }];
}

/**
 * Value of the `InviteEmail` search attribute: the email itself without a key, else a keyed hash
 * (search attributes are stored in clear, so with payload encryption on they must not hold it).
 * Operators search with the same function: `InviteEmail = '<emailSearchValue(email, key)>'`.
 */
export function emailSearchValue(normalizedEmail: string, key?: string): string {
  if (!key) return normalizedEmail;
  // Domain-separated from invite ids, which are an HMAC of the same key over email and scope.
  return `sha256:${createHmac('sha256', key).update(`invite-email\n${normalizedEmail}`).digest('hex')}`;
}

/**
 * The key of `emailSearchValue` for a process: the invite id key, but only while payload
 * encryption is on (without it, histories hold the email anyway and operators search it plainly).
 */
export function emailSearchKey(cfg: { PAYLOAD_KEYS?: readonly unknown[] | undefined; INVITE_ID_KEY?: string | undefined }): string | undefined {
  return cfg.PAYLOAD_KEYS && cfg.PAYLOAD_KEYS.length > 0 ? cfg.INVITE_ID_KEY : undefined;
}
