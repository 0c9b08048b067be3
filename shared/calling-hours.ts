/**
 * Calling hours (OUTBOUND_CALLING_HOURS): when, in the callee's local time, an outbound call may be placed.
 * `always`, or comma-separated windows `[<days> ]HH:MM-HH:MM` (`09:00-20:00`, `Mon-Fri 09:00-20:00, Sat 10:00-14:00`);
 * days are `Mon`..`Sun`, one or a range (`Fri-Mon` wraps). Local time comes from Intl (the IANA database of the
 * runtime), so daylight saving time is followed in every zone.
 */
export interface CallingWindow {
  /** Local days of the week (0 = Sunday) the window applies to. */
  days: ReadonlySet<number>;
  /** Minutes after local midnight: start inclusive, end exclusive (1440 = 24:00). */
  startMinute: number;
  endMinute: number;
}

export type CallingHours = 'always' | readonly CallingWindow[];

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** How far ahead an opening is looked for: a week and a day covers every weekly pattern. */
export const CALLING_HOURS_HORIZON_MS = 8 * DAY_MS;

/** Parses the setting; a message naming the bad part, else the windows. */
export function parseCallingHours(text: string): { ok: true; hours: CallingHours } | { ok: false; message: string } {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === 'always') return { ok: true, hours: 'always' };
  if (!trimmed) return { ok: false, message: 'must be `always` or comma-separated windows [<days> ]HH:MM-HH:MM such as Mon-Fri 09:00-20:00' };
  const windows: CallingWindow[] = [];
  for (const [index, entry] of trimmed.split(',').entries()) {
    const match = /^(?:([A-Za-z]{3})(?:-([A-Za-z]{3}))?\s+)?(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(entry.trim());
    const where = `(window ${index + 1}: ${entry.trim() || 'empty'})`;
    if (!match) return { ok: false, message: `must be \`always\` or comma-separated windows [<days> ]HH:MM-HH:MM such as Mon-Fri 09:00-20:00 ${where}` };
    const [, firstDay, lastDay, startH, startM, endH, endM] = match;
    const first = firstDay ? DAY_NAMES.indexOf(firstDay.toLowerCase() as (typeof DAY_NAMES)[number]) : 0;
    const last = lastDay ? DAY_NAMES.indexOf(lastDay.toLowerCase() as (typeof DAY_NAMES)[number]) : firstDay ? first : 6;
    if (first < 0 || last < 0) return { ok: false, message: `days are Mon, Tue, Wed, Thu, Fri, Sat, Sun ${where}` };
    const startMinute = Number(startH) * 60 + Number(startM);
    const endMinute = Number(endH) * 60 + Number(endM);
    if (Number(startM) > 59 || Number(endM) > 59 || startMinute >= 1440 || endMinute > 1440) return { ok: false, message: `times are 00:00 to 24:00 ${where}` };
    if (startMinute >= endMinute) return { ok: false, message: `a window must end after it starts, the same day (none over midnight) ${where}` };
    const days = new Set<number>();
    for (let day = first; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === last) break;
    }
    windows.push({ days, startMinute, endMinute });
  }
  return { ok: true, hours: windows };
}

/** Whether an IANA time zone name is known to this runtime. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(zone: string, atMs: number): LocalTime {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    formatters.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(atMs)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0 } = parts;
  return { year, month, day, weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(), minute: hour * 60 + minute };
}

/** The zone's offset from UTC at an instant, in ms (local wall time minus UTC), to the minute. */
function offsetMs(zone: string, atMs: number): number {
  const local = localTime(zone, atMs);
  const wall = Date.UTC(local.year, local.month - 1, local.day, 0, local.minute);
  return wall - Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
}

/**
 * The instant a local wall time happens in a zone. A wall time skipped by a daylight-saving jump has no instant:
 * then the later candidate is taken (after the jump), which can only make a window open late, never early.
 */
function instantOf(zone: string, year: number, month: number, day: number, minute: number): number {
  const wall = Date.UTC(year, month - 1, day, 0, minute);
  const first = wall - offsetMs(zone, wall);
  const second = wall - offsetMs(zone, first);
  return Math.max(first, second);
}

export function isInside(hours: CallingHours, zone: string, atMs: number): boolean {
  if (hours === 'always') return true;
  const local = localTime(zone, atMs);
  return hours.some((w) => w.days.has(local.weekday) && local.minute >= w.startMinute && local.minute < w.endMinute);
}

/** The first instant after `atMs` at which one of the windows opens in the zone (within the horizon). */
function nextOpeningIn(hours: readonly CallingWindow[], zone: string, atMs: number): number | undefined {
  const today = localTime(zone, atMs);
  let best: number | undefined;
  // From the local yesterday: cheap insurance around a midnight daylight-saving jump.
  for (let offset = -1; offset <= 8; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    for (const window of hours) {
      if (!window.days.has(date.getUTCDay())) continue;
      const opening = instantOf(zone, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), window.startMinute);
      if (opening > atMs && (best === undefined || opening < best)) best = opening;
    }
  }
  return best;
}

export type CallingHoursVerdict =
  | { kind: 'now' }
  /** Outside the hours in at least one zone: the earliest instant inside them in every zone. */
  | { kind: 'later'; at: Date }
  /** No instant within the horizon is inside the hours in every zone (e.g. zones too far apart for the window). */
  | { kind: 'never' };

/**
 * When a call to a callee who may be in any of `zones` may be placed, at `atMs` or later: only at an instant inside
 * the hours in EVERY zone (a number that does not tell its zone exactly is treated conservatively).
 */
export function nextCallingTime(hours: CallingHours, zones: readonly string[], atMs: number): CallingHoursVerdict {
  if (hours === 'always' || zones.length === 0) return { kind: 'now' };
  let t = atMs;
  for (let step = 0; step < 10_000; step++) {
    const outside = zones.filter((zone) => !isInside(hours, zone, t));
    if (outside.length === 0) return t === atMs ? { kind: 'now' } : { kind: 'later', at: new Date(t) };
    // No instant before a zone's next opening can be inside everywhere: jump to the latest of them.
    let next = t;
    for (const zone of outside) {
      const opening = nextOpeningIn(hours, zone, t);
      if (opening === undefined) return { kind: 'never' };
      next = Math.max(next, opening);
    }
    if (next - atMs > CALLING_HOURS_HORIZON_MS) return { kind: 'never' };
    t = next;
  }
  return { kind: 'never' };
}

/** The setting written back, for messages (`Mon-Fri 09:00-20:00`). */
export function describeCallingHours(hours: CallingHours): string {
  if (hours === 'always') return 'always';
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return hours
    .map((w) => {
      const days = [...w.days];
      const label = days.length === 7 ? '' : `${days.map((d) => DAY_NAMES[d]![0]!.toUpperCase() + DAY_NAMES[d]!.slice(1)).join('/')} `;
      return `${label}${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
    })
    .join(', ');
}
