/** Send windows as pure functions: local time in a zone, the next instant inside the window, defaults. */
import { describe, expect, it } from 'vitest';
import { canonicalTimeZone, defaultTimeZone, inSendWindow, localMinutes, nextSendTime, parseClock } from '../../workflows/send-window';

const window = (timeZone: string, start = '09:00', end = '20:00') => ({ timeZone, startMinutes: parseClock(start)!, endMinutes: parseClock(end)! });
const at = (iso: string) => Date.parse(iso);

describe('nextSendTime', () => {
  it('keeps an instant inside the window, and moves a night-time one to the morning, in each zone', () => {
    // 15:00 UTC is 10:00 in New York (EST) and 00:00 in Tokyo.
    const t = at('2026-01-15T15:00:00Z');
    expect(nextSendTime(t, window('America/New_York'))).toBe(t);
    expect(new Date(nextSendTime(t, window('Asia/Tokyo'))).toISOString()).toBe('2026-01-16T00:00:00.000Z');
    // After the window closes: the next day's opening.
    expect(new Date(nextSendTime(at('2026-01-15T20:30:00Z'), window('Europe/Paris'))).toISOString()).toBe('2026-01-16T08:00:00.000Z');
    expect(new Date(nextSendTime(at('2026-01-15T19:00:00Z'), window('Europe/Paris'))).toISOString()).toBe('2026-01-16T08:00:00.000Z');
  });

  it('lands on the local opening across a daylight-saving change', () => {
    // New York springs forward on 2026-03-08: 01:30 EST, then 09:00 is EDT (UTC-4).
    expect(new Date(nextSendTime(at('2026-03-08T06:30:00Z'), window('America/New_York'))).toISOString()).toBe('2026-03-08T13:00:00.000Z');
    // Paris falls back on 2026-10-25: 22:00 CEST the evening before, then 09:00 is CET (UTC+1).
    expect(new Date(nextSendTime(at('2026-10-24T20:00:00Z'), window('Europe/Paris'))).toISOString()).toBe('2026-10-25T08:00:00.000Z');
    for (const zone of ['America/New_York', 'Europe/Paris', 'Australia/Sydney', 'Asia/Kolkata', 'Pacific/Chatham']) {
      for (let h = 0; h < 24 * 14; h += 5) {
        const sent = nextSendTime(at('2026-03-01T00:17:00Z') + h * 3_600_000, window(zone));
        expect(inSendWindow(sent, window(zone)), `${zone} +${h}h`).toBe(true);
      }
    }
  });

  it('honours a window of the invite’s own', () => {
    const evening = window('Europe/London', '17:00', '21:00');
    expect(new Date(nextSendTime(at('2026-01-15T09:00:00Z'), evening)).toISOString()).toBe('2026-01-15T17:00:00.000Z');
    expect(localMinutes(at('2026-07-01T12:34:00Z'), 'Europe/London')).toBe(13 * 60 + 34);
  });
});

describe('zones', () => {
  it('guesses a zone from the locale, and checks IANA names', () => {
    expect(defaultTimeZone('en')).toBe('America/New_York');
    expect(defaultTimeZone('en-GB')).toBe('Europe/London');
    expect(defaultTimeZone('fr')).toBe('Europe/Paris');
    expect(defaultTimeZone('fr-CA')).toBe('America/Toronto');
    expect(defaultTimeZone('de')).toBe('UTC');
    expect(canonicalTimeZone('Asia/Tokyo')).toBe('Asia/Tokyo');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    for (const bad of ['Mars/Olympus_Mons', '', 'UTC; DROP', '../etc/passwd', 'x'.repeat(65)]) expect(canonicalTimeZone(bad)).toBeUndefined();
  });
});
