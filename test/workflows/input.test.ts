/** The invite input's creation time (checked like every other field, taken only when plausible) and its attribution. */
import { describe, expect, it } from 'vitest';
import { CREATED_AT_TOLERANCE_MS, crmFitsBesideData, InvalidInviteInput, inviteCreatedAt, MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_KEYS, resolveInviteInput } from '../../workflows/input';
import type { InviteInput, JsonValue } from '../../workflows/messages';

const base: InviteInput = {
  inviteId: 'a'.repeat(20),
  email: 'ada@example.com',
  roles: [],
  data: {},
  scope: 'default',
  locale: 'en',
};

describe('createdAt', () => {
  it('is optional, and read as milliseconds when given', () => {
    expect(resolveInviteInput(base).createdAtMs).toBeUndefined();
    expect(resolveInviteInput({ ...base, createdAt: '2026-11-25T10:00:00.123Z' }).createdAtMs).toBe(
      Date.parse('2026-11-25T10:00:00.123Z'),
    );
  });

  it.each([
    ['not a date', 'yesterday'],
    ['a date without a time', '2026-11-25'],
    ['a local time', '2026-11-25T10:00:00'],
    ['an offset', '2026-11-25T10:00:00+01:00'],
    ['an impossible date', '2026-13-45T10:00:00Z'],
    ['a number', 1_764_064_800_000],
  ])('refuses %s', (_, createdAt) => {
    let err: unknown;
    try {
      resolveInviteInput({ ...base, createdAt: createdAt as string });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInviteInput);
    expect((err as InvalidInviteInput).problems).toEqual([{ field: 'createdAt', message: 'must be an ISO 8601 UTC timestamp' }]);
  });

  it('is the creation time only within the tolerance of the run’s start', () => {
    const start = Date.parse('2026-11-25T10:00:00Z');
    const at = (ms: number) => resolveInviteInput({ ...base, createdAt: new Date(ms).toISOString() });
    expect(inviteCreatedAt(at(start - 1200), start, start + 40)).toBe(start - 1200);
    expect(inviteCreatedAt(at(start - CREATED_AT_TOLERANCE_MS), start, start + 40)).toBe(start - CREATED_AT_TOLERANCE_MS);
    expect(inviteCreatedAt(at(start - CREATED_AT_TOLERANCE_MS - 1), start, start + 40)).toBe(start + 40);
    expect(inviteCreatedAt(at(start + CREATED_AT_TOLERANCE_MS + 1), start, start + 40)).toBe(start + 40);
    expect(inviteCreatedAt(resolveInviteInput(base), start, start + 40)).toBe(start + 40);
  });
});

describe('attribution', () => {
  it('keeps the UTM fields given, and asks for claims only when told', () => {
    const resolved = resolveInviteInput({ ...base, attribution: { utm_source: 'newsletter', utm_campaign: 'spring-26' } });
    expect(resolved.attribution).toEqual({ utm_source: 'newsletter', utm_campaign: 'spring-26' });
    expect(resolved.attributionInClaims).toBe(false);
    expect(resolveInviteInput({ ...base, attribution: {}, attributionInClaims: true })).toMatchObject({ attributionInClaims: true });
    expect(resolveInviteInput({ ...base, attribution: {} }).attribution).toBeUndefined();
  });

  it.each([
    ['an unknown field', { utm_id: 'x' }, 'attribution.utm_id'],
    ['an empty value', { utm_source: '' }, 'attribution.utm_source'],
    ['a value too long', { utm_medium: 'x'.repeat(201) }, 'attribution.utm_medium'],
    ['a line break', { utm_term: 'a\r\nb' }, 'attribution.utm_term'],
    ['a number', { utm_content: 7 }, 'attribution.utm_content'],
    ['a list', ['newsletter'], 'attribution'],
  ])('refuses %s', (_, attribution, field) => {
    let err: unknown;
    try {
      resolveInviteInput({ ...base, attribution: attribution as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInviteInput);
    expect((err as InvalidInviteInput).problems.map((p) => p.field)).toEqual([field]);
  });
});

describe('escalateBefore', () => {
  it('defaults to 2 days before expiry, can be turned off, and is off when the ttl is not longer', () => {
    expect(resolveInviteInput(base).escalateBeforeMs).toBe(2 * 86_400_000);
    expect(resolveInviteInput({ ...base, escalateBefore: '6 days' }).escalateBeforeMs).toBe(6 * 86_400_000);
    expect(resolveInviteInput({ ...base, escalateBefore: false }).escalateBeforeMs).toBeUndefined();
    expect(resolveInviteInput({ ...base, ttl: '2 days' }).escalateBeforeMs).toBeUndefined();
  });

  it('refuses what is not a duration', () => {
    expect(() => resolveInviteInput({ ...base, escalateBefore: 'soon' })).toThrow(InvalidInviteInput);
    expect(() => resolveInviteInput({ ...base, escalateBefore: true as never })).toThrow(/escalateBefore/);
  });
});

describe('timeZone and sendWindow', () => {
  it('default to the locale’s zone and 09:00–20:00', () => {
    expect(resolveInviteInput(base).sendWindow).toEqual({ timeZone: 'America/New_York', startMinutes: 540, endMinutes: 1200 });
    expect(resolveInviteInput({ ...base, locale: 'fr' }).sendWindow.timeZone).toBe('Europe/Paris');
    expect(resolveInviteInput({ ...base, timeZone: 'Asia/Tokyo', sendWindow: { start: '10:30', end: '18:00' } }).sendWindow).toEqual({
      timeZone: 'Asia/Tokyo',
      startMinutes: 630,
      endMinutes: 1080,
    });
  });

  it.each([
    ['an unknown zone', { timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
    ['a window at night', { sendWindow: { start: '05:00', end: '20:00' } }, 'sendWindow'],
    ['a window into the night', { sendWindow: { start: '09:00', end: '23:30' } }, 'sendWindow'],
    ['a window too short', { sendWindow: { start: '12:00', end: '13:00' } }, 'sendWindow'],
    ['a window backwards', { sendWindow: { start: '18:00', end: '09:00' } }, 'sendWindow'],
    ['a malformed time', { sendWindow: { start: '9am', end: '20:00' } }, 'sendWindow'],
  ])('refuses %s', (_, extra, field) => {
    let err: unknown;
    try {
      resolveInviteInput({ ...base, ...(extra as Partial<InviteInput>) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInviteInput);
    expect((err as InvalidInviteInput).problems.map((p) => p.field)).toEqual([field]);
  });
});

/** `{ k: { k: … 1 } }` nesting `levels` objects, the outermost included. */
function nested(levels: number, leaf: JsonValue = 1): Record<string, JsonValue> {
  let value: JsonValue = leaf;
  for (let i = 0; i < levels - 1; i++) value = { k: value };
  return { k: value };
}

function problemsOf(data: Record<string, JsonValue>) {
  try {
    resolveInviteInput({ ...base, data });
  } catch (err) {
    if (err instanceof InvalidInviteInput) return err.problems;
    throw err;
  }
  return [];
}

describe('data bounds', () => {
  it(`takes data nesting ${MAX_DATA_DEPTH} levels with ${MAX_DATA_KEYS} keys in all`, () => {
    // The top level is level 1; an array is a level too.
    expect(problemsOf(nested(MAX_DATA_DEPTH))).toEqual([]);
    expect(problemsOf(nested(MAX_DATA_DEPTH - 1, [1, 2]))).toEqual([]);
    const wide = Object.fromEntries(Array.from({ length: MAX_DATA_KEYS }, (_, i) => [`k${i}`, i]));
    expect(problemsOf(wide)).toEqual([]);
    // Keys of nested objects and array items count with the top level's.
    const spread = { a: Object.fromEntries(Array.from({ length: MAX_DATA_KEYS - 2 }, (_, i) => [`k${i}`, i])), b: [] };
    expect(problemsOf(spread)).toEqual([]);
  });

  it('refuses one level deeper, naming the limit and where it was passed', () => {
    const problems = problemsOf(nested(MAX_DATA_DEPTH + 1));
    expect(problems).toEqual([{ field: 'data', message: `must nest at most ${MAX_DATA_DEPTH} levels deep (data.k.k.k.k.k is level ${MAX_DATA_DEPTH + 1})` }]);
    expect(problemsOf(nested(MAX_DATA_DEPTH, [1]))[0]?.message).toMatch(`at most ${MAX_DATA_DEPTH} levels deep (data.k.k.k.k.k is level 6)`);
  });

  it('refuses data nested 200 levels deep, as JSON text parsed by the API would be, without walking all of it', () => {
    const deep = JSON.parse(`${'{"k":'.repeat(200)}1${'}'.repeat(200)}`) as Record<string, JsonValue>;
    expect(problemsOf(deep).map((p) => p.message)).toEqual([expect.stringContaining(`at most ${MAX_DATA_DEPTH} levels deep`)]);
    const deepArrays = { list: JSON.parse(`${'['.repeat(200)}${']'.repeat(200)}`) as JsonValue };
    expect(problemsOf(deepArrays).map((p) => p.field)).toEqual(['data']);
  });

  it('refuses one key too many, at any level, array items included', () => {
    const wide = Object.fromEntries(Array.from({ length: MAX_DATA_KEYS + 1 }, (_, i) => [`k${i}`, i]));
    expect(problemsOf(wide)).toEqual([{ field: 'data', message: `must have at most ${MAX_DATA_KEYS} keys in all (array items count as keys)` }]);
    expect(problemsOf({ a: { b: Array.from({ length: MAX_DATA_KEYS }, (_, i) => i) } })[0]?.message).toContain(`at most ${MAX_DATA_KEYS} keys`);
  });
});

describe('CRM properties beside data', () => {
  const props = (n: number, value = 'x') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, value]));

  it('fit while data and properties together stay within the keys and bytes of data', () => {
    expect(crmFitsBesideData({ plan: 'pro' }, props(MAX_DATA_KEYS - 1))).toBe(true);
    expect(crmFitsBesideData({ plan: 'pro' }, props(MAX_DATA_KEYS))).toBe(false);
    expect(crmFitsBesideData({}, { notes: 'x'.repeat(MAX_DATA_BYTES) })).toBe(false);
  });

  it("count data's keys at every level, as data's own check does", () => {
    // One key at the top, 90 below it: 91 keys for data's check.
    const nested = { lead: Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`k${i}`, i])) };
    expect(crmFitsBesideData(nested, props(MAX_DATA_KEYS - 91))).toBe(true);
    expect(crmFitsBesideData(nested, props(MAX_DATA_KEYS - 90))).toBe(false);
  });
});
