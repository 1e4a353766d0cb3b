/**
 * Time values as SQL reads and writes them: TIMESTAMP(3) is epoch milliseconds of a UTC
 * wall-clock time, DATE is days since 1970-01-01. Text forms follow Flink: 'SQL'
 * (`2026-01-01 12:00:00.5`) or 'ISO-8601' (`2026-01-01T12:00:00.5`), and DATE_FORMAT patterns
 * in Java's letters (yyyy, MM, dd, HH, mm, ss, SSS).
 */

const MS_PER_DAY = 86_400_000;

const TIMESTAMP_TEXT = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses a timestamp text ('SQL' or 'ISO-8601' form, optional zone) to epoch ms; NaN when it is not one. */
export function parseTimestamp(text: string): number {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return Number.NaN;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const ms = Number(frac.padEnd(3, "0").slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return t;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Formats epoch ms as Flink writes TIMESTAMP(3): date, time, and the fraction only when not zero. */
export function formatTimestamp(ms: number, standard: "SQL" | "ISO-8601" = "SQL"): string {
  const d = new Date(ms);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const milli = d.getUTCMilliseconds();
  const frac = milli === 0 ? "" : `.${pad(milli, 3).replace(/0+$/, "")}`;
  return `${date}${standard === "SQL" ? " " : "T"}${time}${frac}`;
}

/** Formats epoch ms with all three fraction digits (CAST to STRING). */
export function formatTimestampFull(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** Parses 'yyyy-MM-dd' to days since the epoch; NaN when it is not a date. */
export function parseDate(text: string): number {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / MS_PER_DAY;
}

/** Formats days since the epoch as 'yyyy-MM-dd'. */
export function formatDate(days: number): string {
  return formatTimestamp(days * MS_PER_DAY).slice(0, 10);
}

/** The date (days since the epoch) of a timestamp. */
export function dateOf(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

/** Start of a DATE as a timestamp. */
export function dateToTimestamp(days: number): number {
  return days * MS_PER_DAY;
}

/** Formats epoch ms with a Java DateTimeFormatter-style pattern (the common letters). */
export function formatPattern(ms: number, pattern: string): string {
  const d = new Date(ms);
  const fields: Record<string, (n: number) => string> = {
    y: (n) => (n === 2 ? pad(d.getUTCFullYear() % 100) : pad(d.getUTCFullYear(), n)),
    M: (n) => pad(d.getUTCMonth() + 1, n),
    d: (n) => pad(d.getUTCDate(), n),
    H: (n) => pad(d.getUTCHours(), n),
    h: (n) => pad(d.getUTCHours() % 12 || 12, n),
    m: (n) => pad(d.getUTCMinutes(), n),
    s: (n) => pad(d.getUTCSeconds(), n),
    S: (n) => pad(d.getUTCMilliseconds(), 3).slice(0, n).padEnd(n, "0"),
    a: () => (d.getUTCHours() < 12 ? "AM" : "PM"),
  };
  let out = "";
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i] as string;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      out += end < 0 ? pattern.slice(i + 1) : pattern.slice(i + 1, end);
      i = end < 0 ? pattern.length : end + 1;
      continue;
    }
    let j = i;
    while (j < pattern.length && pattern[j] === c) j++;
    const f = fields[c];
    out += f ? f(j - i) : pattern.slice(i, j);
    i = j;
  }
  return out;
}

/** Parses text with a Java-style pattern made of yyyy MM dd HH mm ss SSS and literals; NaN when it does not match. */
export function parsePattern(text: string, pattern: string): number {
  const parts: { letter: string; width: number }[] = [];
  let re = "^";
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i] as string;
    let j = i;
    while (j < pattern.length && pattern[j] === c) j++;
    if (/[yMdHmsS]/.test(c)) {
      parts.push({ letter: c, width: j - i });
      re += c === "S" ? "(\\d{1,9})" : `(\\d{1,${Math.max(j - i, c === "y" ? 4 : 2)}})`;
    } else re += pattern.slice(i, j).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    i = j;
  }
  const m = new RegExp(`${re}$`).exec(text.trim());
  if (!m) return Number.NaN;
  const v: Record<string, number> = { y: 1970, M: 1, d: 1, H: 0, m: 0, s: 0, S: 0 };
  parts.forEach((p, k) => {
    const raw = m[k + 1] as string;
    v[p.letter] = p.letter === "S" ? Number(raw.padEnd(3, "0").slice(0, 3)) : Number(raw);
  });
  return Date.UTC(v.y as number, (v.M as number) - 1, v.d, v.H, v.m, v.s, v.S);
}

/** EXTRACT / YEAR() … fields of a timestamp. */
export function extractField(ms: number, unit: string): number {
  const d = new Date(ms);
  switch (unit) {
    case "YEAR":
      return d.getUTCFullYear();
    case "QUARTER":
      return Math.floor(d.getUTCMonth() / 3) + 1;
    case "MONTH":
      return d.getUTCMonth() + 1;
    case "WEEK": {
      // ISO week number.
      const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
      const day = t.getUTCDay() || 7;
      t.setUTCDate(t.getUTCDate() + 4 - day);
      const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
      return Math.ceil(((t.getTime() - yearStart) / MS_PER_DAY + 1) / 7);
    }
    case "DAY":
    case "DAYOFMONTH":
      return d.getUTCDate();
    case "DOW":
    case "DAYOFWEEK":
      return d.getUTCDay() + 1;
    case "DOY":
    case "DAYOFYEAR":
      return Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / MS_PER_DAY) + 1;
    case "HOUR":
      return d.getUTCHours();
    case "MINUTE":
      return d.getUTCMinutes();
    case "SECOND":
      return d.getUTCSeconds();
    case "MILLISECOND":
      return d.getUTCMilliseconds();
    default:
      return Number.NaN;
  }
}

/** Truncates a timestamp to a unit (FLOOR(ts TO unit)); CEIL rounds up to the next boundary. */
export function truncateTo(ms: number, unit: string, ceil = false): number {
  const d = new Date(ms);
  let t: number;
  switch (unit) {
    case "YEAR":
      t = Date.UTC(d.getUTCFullYear(), 0, 1);
      break;
    case "MONTH":
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      break;
    case "DAY":
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      break;
    case "HOUR":
      t = ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000);
      break;
    case "MINUTE":
      t = ms - (((ms % 60_000) + 60_000) % 60_000);
      break;
    case "SECOND":
      t = ms - (((ms % 1000) + 1000) % 1000);
      break;
    default:
      return Number.NaN;
  }
  if (!ceil || t === ms) return t;
  return truncateTo(
    t +
      (unit === "YEAR" ? 366 : unit === "MONTH" ? 31 : unit === "DAY" ? 1 : 0) * MS_PER_DAY +
      (unit === "HOUR" ? 3_600_000 : unit === "MINUTE" ? 60_000 : unit === "SECOND" ? 1000 : 0),
    unit,
  );
}
