/**
 * The instants a time-dependent test runs at, so that its outcome cannot hang on the hour the
 * suite happens to run: each of the 24 UTC hours of a day, and both sides of the daylight-saving
 * changes of the zones our locales default to. Tests feed them to an injected clock (`now`
 * arguments, `vi.setSystemTime`) or skip the time-skipping server's clock forward to them.
 */

const HOUR_MS = 3_600_000;

/** An instant at a given UTC hour, `minute` past, on the day of `dayMs` (a UTC midnight). */
export function atUtcHour(dayMs: number, hour: number, minute = 17): number {
  return dayMs + hour * HOUR_MS + minute * 60_000;
}

/** A plain winter weekday, with no clock change anywhere near it. */
export const SWEEP_DAY = Date.UTC(2027, 0, 12);

/** Each UTC hour of one day, at 17 minutes past (not on the hour, where windows open and close). */
export function everyUtcHour(dayMs: number = SWEEP_DAY): number[] {
  return Array.from({ length: 24 }, (_, hour) => atUtcHour(dayMs, hour));
}

/** A daylight-saving change: the zone, the instant the clocks change, and which way. */
export interface ClockChange {
  zone: string;
  at: number;
  kind: 'spring forward' | 'fall back';
}

/** The changes of 2027 in the zones of `en` and `fr` invites (New York, Paris), for injected clocks. */
export const CLOCK_CHANGES: readonly ClockChange[] = [
  { zone: 'America/New_York', at: Date.UTC(2027, 2, 14, 7), kind: 'spring forward' },
  { zone: 'Europe/Paris', at: Date.UTC(2027, 2, 28, 1), kind: 'spring forward' },
  { zone: 'Europe/Paris', at: Date.UTC(2027, 9, 31, 1), kind: 'fall back' },
  { zone: 'America/New_York', at: Date.UTC(2027, 10, 7, 6), kind: 'fall back' },
];

/** The UTC offset of `zone` at `ms`, in minutes. */
export function utcOffsetMinutes(ms: number, zone: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(ms).find((p) => p.type === 'timeZoneName')!.value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
}

/**
 * The clock changes of `zone` between `fromMs` and `untilMs`, found from the zone's offsets (to
 * the minute), for tests on a server whose clock starts at the real time: they sweep the next
 * changes, whatever the year.
 */
export function clockChanges(zone: string, fromMs: number, untilMs: number): ClockChange[] {
  const changes: ClockChange[] = [];
  let before = utcOffsetMinutes(fromMs, zone);
  for (let t = fromMs + HOUR_MS; t <= untilMs; t += HOUR_MS) {
    const after = utcOffsetMinutes(t, zone);
    if (after === before) continue;
    let [lo, hi] = [t - HOUR_MS, t];
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
      if (utcOffsetMinutes(mid, zone) === before) lo = mid;
      else hi = mid;
    }
    changes.push({ zone, at: hi, kind: after > before ? 'spring forward' : 'fall back' });
    before = after;
  }
  return changes;
}

/** Each UTC hour of the day before and the day after a clock change: both sides of it. */
export function aroundClockChange(change: ClockChange): number[] {
  const day = change.at - (change.at % (24 * HOUR_MS));
  return [...everyUtcHour(day - 24 * HOUR_MS), ...everyUtcHour(day + 24 * HOUR_MS)];
}

/** Every instant of the sweep, labelled for test names. */
export function sweepInstants(): { label: string; at: number }[] {
  return [
    ...everyUtcHour().map((at) => ({ label: `${new Date(at).toISOString().slice(11, 16)} UTC`, at })),
    ...CLOCK_CHANGES.flatMap((change) =>
      aroundClockChange(change).map((at) => ({ label: `${new Date(at).toISOString().slice(0, 16)}Z (${change.zone} ${change.kind})`, at })),
    ),
  ];
}
