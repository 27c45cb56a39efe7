/** With payload encryption on, the InviteEmail search attribute and its filter hold a keyed hash. */
import { describe, expect, it } from 'vitest';
import { emailSearchKey, emailSearchValue } from '../../client/codec';
import { visibilityQuery } from '../../client/invite-search';

const KEY = 'an-invite-id-key-of-some-length';

describe('email search value', () => {
  it('is the address itself without encryption, a keyed hash with it', () => {
    expect(emailSearchKey({ INVITE_ID_KEY: KEY })).toBeUndefined();
    expect(emailSearchKey({ INVITE_ID_KEY: KEY, PAYLOAD_KEYS: [] })).toBeUndefined();
    expect(emailSearchKey({ INVITE_ID_KEY: KEY, PAYLOAD_KEYS: [{ id: 'k1' }] })).toBe(KEY);
    expect(emailSearchValue('ada@example.com')).toBe('ada@example.com');
    const hashed = emailSearchValue('ada@example.com', KEY);
    expect(hashed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashed).toBe(emailSearchValue('ada@example.com', KEY));
    expect(hashed).not.toBe(emailSearchValue('ada@example.com', `${KEY}-other`));
  });

  it('filters visibility on the same value the starter writes, never on the address', () => {
    const plain = visibilityQuery({ email: 'ada@example.com' });
    expect(plain).toContain(`InviteEmail = 'ada@example.com'`);
    const hashed = visibilityQuery({ email: 'ada@example.com', scope: 'workspace:acme' }, KEY);
    expect(hashed).toContain(`InviteEmail = '${emailSearchValue('ada@example.com', KEY)}'`);
    expect(hashed).not.toContain('ada@example.com');
    expect(hashed).toContain(`InviteScope = 'workspace:acme'`);
  });
});
