/**
 * The payload codec on its own: what it encrypts decrypts to the same payload, keys rotate
 * (old payloads stay readable, new ones use the current key), and anything tampered with or
 * encrypted with a key we no longer hold is refused with a clear error rather than garbage.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { EncryptionCodec, ENCRYPTED_ENCODING, emailSearchValue, FAILURE_CONVERTER_PATH, KEY_ID_METADATA, PayloadCodecError } from '../../client/codec';
import { ConfigError, loadApiConfig, loadCliConfig, loadWorkerConfig } from '../../lib/config';
import { temporalDataConverter } from '../../client/connection';

const key = (id: string) => ({ id, key: randomBytes(32).toString('base64') });
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const sample = { email: 'ada@example.com', data: { leadId: 'lead-42', plan: 'pro' } };

async function refusal(promise: Promise<unknown>): Promise<PayloadCodecError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayloadCodecError);
  return err as PayloadCodecError;
}

describe('EncryptionCodec', () => {
  const k1 = key('k1');
  const k2 = key('k2');

  it('round-trips payloads and hides their content', async () => {
    const codec = new EncryptionCodec([k1]);
    const payloads = [defaultPayloadConverter.toPayload(sample), defaultPayloadConverter.toPayload(null), defaultPayloadConverter.toPayload(undefined)];
    const encoded = await codec.encode(payloads);
    for (const p of encoded) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('k1');
      expect(text(p.data)).not.toContain('ada@example.com');
      expect(text(p.data)).not.toContain('lead-42');
    }
    const decoded = await codec.decode(encoded);
    expect(defaultPayloadConverter.fromPayload(decoded[0]!)).toEqual(sample);
    expect(defaultPayloadConverter.fromPayload(decoded[1]!)).toBeNull();
    expect(defaultPayloadConverter.fromPayload(decoded[2]!)).toBeUndefined();
  });

  it('uses a fresh IV for every payload', async () => {
    const codec = new EncryptionCodec([k1]);
    const payload = defaultPayloadConverter.toPayload(sample);
    const [a, b] = await codec.encode([payload, payload]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('rotates: the new current key encrypts, the old key still decrypts', async () => {
    const before = new EncryptionCodec([k1]);
    const after = new EncryptionCodec([k2, k1]);
    const old = await before.encode([defaultPayloadConverter.toPayload(sample)]);
    expect(defaultPayloadConverter.fromPayload((await after.decode(old))[0]!)).toEqual(sample);
    const fresh = await after.encode([defaultPayloadConverter.toPayload(sample)]);
    expect(text(fresh[0]!.metadata?.[KEY_ID_METADATA])).toBe('k2');
    expect(after.currentKeyId).toBe('k2');
  });

  it('refuses a payload whose key is no longer configured, naming the key id', async () => {
    const encoded = await new EncryptionCodec([k1]).encode([defaultPayloadConverter.toPayload(sample)]);
    const err = await refusal(new EncryptionCodec([k2]).decode(encoded));
    expect(err.code).toBe('ERR_PAYLOAD_UNKNOWN_KEY');
    expect(err.message).toContain('"k1"');
  });

  it('refuses tampered ciphertext, a relabelled key id, a wrong key under the same id and truncation', async () => {
    const codec = new EncryptionCodec([k1, k2]);
    const [good] = await codec.encode([defaultPayloadConverter.toPayload(sample)]);
    const flipped = Buffer.from(good!.data!);
    flipped[20] = flipped[20]! ^ 1;
    const cases: Payload[] = [
      { ...good, data: flipped },
      { ...good, metadata: { ...good!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } },
      { ...good, data: Buffer.from(good!.data!).subarray(0, 20) },
    ];
    for (const p of cases) expect((await refusal(codec.decode([p]))).code).toBe('ERR_PAYLOAD_DECRYPT');
    const sameIdOtherKey = new EncryptionCodec([{ id: 'k1', key: k2.key }]);
    expect((await refusal(sameIdOtherKey.decode([good!]))).code).toBe('ERR_PAYLOAD_DECRYPT');
  });

  it('passes through payloads written before encryption was turned on', async () => {
    const clear = defaultPayloadConverter.toPayload(sample);
    expect(await new EncryptionCodec([k1]).decode([clear])).toEqual([clear]);
  });

  it('refuses bad key lists', () => {
    expect(() => new EncryptionCodec([])).toThrow(PayloadCodecError);
    expect(() => new EncryptionCodec([{ id: 'a', key: randomBytes(16).toString('base64') }])).toThrow(/32 bytes/);
    expect(() => new EncryptionCodec([k1, k1])).toThrow(/twice/);
  });
});

describe('PAYLOAD_KEYS and PAYLOAD_ENCRYPTION configuration', () => {
  const base = {
    LINK_SIGNING_KEY: JSON.stringify({ kty: 'OKP', kid: 'x' }),
    AUTH0_DOMAIN: 'tenant.example.com',
    AUTH0_CLIENT_ID: 'id',
    AUTH0_CLIENT_SECRET: 'secret',
    HUBSPOT_ACCESS_TOKEN: 'token',
  };

  const apiBase = {
    LINK_VERIFICATION_KEYS: JSON.stringify([{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1' }]),
    INVITE_ID_KEY: 'x'.repeat(16),
    ACTION_SECRET: 's'.repeat(32),
    AUTH_ISSUER: 'https://tenant.eu.auth0.com/',
    APP_LOGIN_URL: 'https://app.example.com/login',
    AUTH0_DOMAIN: 'tenant.eu.auth0.com',
    AUTH0_CLIENT_ID: 'client',
    AUTH0_CLIENT_SECRET: 'secret',
  };
  const loaders = [
    ['worker', (env: Record<string, string>) => loadWorkerConfig({ ...base, ...env })],
    ['api', (env: Record<string, string>) => loadApiConfig({ ...apiBase, ...env })],
    ['cli', (env: Record<string, string>) => loadCliConfig(env)],
  ] as const;
  const problems = (load: () => unknown) => {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return '';
  };

  it('is parsed into keys, the first encrypting', () => {
    const keys = [key('2025-01'), key('2024-07')];
    expect(loadWorkerConfig({ ...base, PAYLOAD_KEYS: JSON.stringify(keys) })).toMatchObject({ PAYLOAD_KEYS: keys, PAYLOAD_ENCRYPTION: 'on' });
  });

  it.each(loaders)('the %s refuses to start without keys, saying how to turn encryption off on purpose', (_name, load) => {
    const message = problems(() => load({}));
    expect(message).toMatch(/PAYLOAD_KEYS: is required: payload encryption is on by default/);
    expect(message).toContain('PAYLOAD_ENCRYPTION=off');
    expect(problems(() => load({ PAYLOAD_ENCRYPTION: 'on' }))).toMatch(/PAYLOAD_KEYS: is required/);
    // An empty `PAYLOAD_KEYS=` line in .env is unset, not a way around the refusal.
    expect(problems(() => load({ PAYLOAD_KEYS: '' }))).toMatch(/PAYLOAD_KEYS: is required/);
  });

  it.each(loaders)('the %s runs in clear only with PAYLOAD_ENCRYPTION=off, and no data converter codec then', (_name, load) => {
    const cfg = load({ PAYLOAD_ENCRYPTION: 'off' });
    expect(cfg).toMatchObject({ PAYLOAD_ENCRYPTION: 'off' });
    expect(cfg.PAYLOAD_KEYS).toBeUndefined();
    expect(temporalDataConverter(cfg)).toEqual({});
  });

  it.each(loaders)('the %s refuses keys with PAYLOAD_ENCRYPTION=off, and any other value', (_name, load) => {
    expect(problems(() => load({ PAYLOAD_ENCRYPTION: 'off', PAYLOAD_KEYS: JSON.stringify([key('a')]) }))).toMatch(/PAYLOAD_ENCRYPTION: is off while PAYLOAD_KEYS is set/);
    expect(problems(() => load({ PAYLOAD_ENCRYPTION: 'false', PAYLOAD_KEYS: JSON.stringify([key('a')]) }))).toMatch(/PAYLOAD_ENCRYPTION: must be on or off/);
  });

  it('with keys, every process encrypts payloads and encodes failure messages', () => {
    const converter = temporalDataConverter({ PAYLOAD_KEYS: [key('a')] });
    expect(converter.payloadCodecs?.[0]).toBeInstanceOf(EncryptionCodec);
    expect(converter.failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
  });

  it('keeps the tokenless codec endpoint of local development away from a proxied API', () => {
    const keys = JSON.stringify([key('a')]);
    expect(loadApiConfig({ ...apiBase, PAYLOAD_KEYS: keys, CODEC_LOOPBACK_WITHOUT_TOKEN: 'true' }).CODEC_LOOPBACK_WITHOUT_TOKEN).toBe(true);
    expect(loadApiConfig({ ...apiBase, PAYLOAD_KEYS: keys }).CODEC_LOOPBACK_WITHOUT_TOKEN).toBe(false);
    expect(problems(() => loadApiConfig({ ...apiBase, PAYLOAD_KEYS: keys, CODEC_LOOPBACK_WITHOUT_TOKEN: 'true', TRUST_PROXY: 'true' }))).toMatch(
      /CODEC_LOOPBACK_WITHOUT_TOKEN: is for local development only and cannot be combined with TRUST_PROXY/,
    );
  });

  it.each([
    ['not JSON', '{'],
    ['empty', '[]'],
    ['short key', JSON.stringify([{ id: 'a', key: randomBytes(16).toString('base64') }])],
    ['duplicate ids', JSON.stringify([{ id: 'a', key: randomBytes(32).toString('base64') }, { id: 'a', key: randomBytes(32).toString('base64') }])],
  ])('refuses %s, naming the variable and never the value', (_name, value) => {
    const err = (() => {
      try {
        loadWorkerConfig({ ...base, PAYLOAD_KEYS: value });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain('PAYLOAD_KEYS');
    // The key material sits after `[{"id":"a","key":"`.
    if (value.length > 40) expect((err as ConfigError).message).not.toContain(value.slice(20, 40));
  });
});

describe('emailSearchValue', () => {
  it('is the email without a key, and a stable keyed hash that reveals no email with one', () => {
    expect(emailSearchValue('ada@example.com')).toBe('ada@example.com');
    const hashed = emailSearchValue('ada@example.com', 'k'.repeat(24));
    expect(hashed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(emailSearchValue('ada@example.com', 'k'.repeat(24))).toBe(hashed);
    expect(emailSearchValue('ada@example.com', 'j'.repeat(24))).not.toBe(hashed);
    expect(emailSearchValue('bob@example.com', 'k'.repeat(24))).not.toBe(hashed);
  });
});
