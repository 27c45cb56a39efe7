/** Send windows as pure functions: local time in a zone, the next instant inside the window, defaults. */
import { describe, expect, it } from 'vitest';
import { defaultTimeZone, ianaTimeZone, inSendWindow, localMinutes, nextSendTime, parseClock } from '../../workflows/send-window';
import { CLOCK_CHANGES, clockChanges, sweepInstants } from '../support/clock';

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
    for (const bad of ['Mars/Olympus_Mons', '', 'UTC; DROP', '../etc/passwd', 'x'.repeat(65)]) expect(ianaTimeZone(bad)).toBeUndefined();
  });

  it('keeps the zone name given, spelled as IANA spells it, on every runtime', () => {
    expect(ianaTimeZone('Asia/Tokyo')).toBe('Asia/Tokyo');
    expect(ianaTimeZone('europe/paris')).toBe('Europe/Paris');
    // Names a runtime may resolve to another name of the same zone stay as given.
    expect(ianaTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(ianaTimeZone('Asia/Calcutta')).toBe('Asia/Calcutta');
    expect(ianaTimeZone('US/Eastern')).toBe('US/Eastern');
    expect(ianaTimeZone('UTC')).toBe('UTC');
    for (const [given, kept] of [['Etc/GMT', 'Etc/GMT'], ['etc/gmt', 'Etc/GMT'], ['Etc/GMT+5', 'Etc/GMT+5'], ['etc/gmt-14', 'Etc/GMT-14'], ['Etc/UTC', 'Etc/UTC']]) {
      expect(ianaTimeZone(given!), given).toBe(kept);
    }
    // Two names of one zone keep the same local time.
    const t = Date.parse('2027-01-12T05:17:00Z');
    expect(localMinutes(t, 'Asia/Kolkata')).toBe(localMinutes(t, 'Asia/Calcutta'));
    expect(localMinutes(t, 'Etc/GMT')).toBe(localMinutes(t, 'UTC'));
  });
});

describe('send windows at every hour', () => {
  // The zones of our locales, a half-hour and a 45-minute offset, the date line, and both ends of UTC's range.
  const zones = ['America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'Pacific/Kiritimati', 'Etc/GMT+12', 'Etc/GMT', ...new Set(CLOCK_CHANGES.map((c) => c.zone))];
  const windows = [window('', '09:00', '20:00'), window('', '07:00', '22:00'), window('', '17:00', '19:00')];

  it('sends at once inside the window, else at its next opening and no earlier, from each UTC hour and across each clock change', () => {
    const instants = sweepInstants();
    expect(instants.length).toBe(24 + CLOCK_CHANGES.length * 48);
    for (const { label, at: t } of instants) {
      for (const zone of zones) {
        for (const shape of windows) {
          const w = { ...shape, timeZone: zone };
          const sent = nextSendTime(t, w);
          const what = `${label} in ${zone}, window ${shape.startMinutes}–${shape.endMinutes}`;
          expect(inSendWindow(sent, w), what).toBe(true);
          if (inSendWindow(t, w)) {
            expect(sent, what).toBe(t);
            continue;
          }
          expect(sent, what).toBeGreaterThan(t);
          expect(sent - t, what).toBeLessThan(25 * 3_600_000);
          expect(Math.round(localMinutes(sent, zone)), what).toBe(shape.startMinutes);
          // Nothing between: a quarter-hour scan finds no earlier instant inside the window.
          for (let probe = t; probe < sent - 60_000; probe += 15 * 60_000) expect(inSendWindow(probe, w), `${what}: open at ${new Date(probe).toISOString()}`).toBe(false);
        }
      }
    }
  });
});

describe('the sweep’s clock changes', () => {
  it('are the real ones of 2027, found again from the zones’ offsets', () => {
    const found = ['America/New_York', 'Europe/Paris'].flatMap((zone) => clockChanges(zone, Date.UTC(2027, 0, 1), Date.UTC(2028, 0, 1)));
    expect(found.sort((a, b) => a.at - b.at)).toEqual([...CLOCK_CHANGES]);
    expect(clockChanges('Asia/Kolkata', Date.UTC(2027, 0, 1), Date.UTC(2028, 0, 1))).toEqual([]);
  });
});
