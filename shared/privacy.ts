/**
 * Masks a phone number or ACS identifier for logs and records: keeps the country prefix and the last
 * two digits (`+4420******34`), so support staff can tell calls apart without holding the number.
 */
export function maskPhoneNumber(value: string | undefined | null): string {
  if (!value) return '';
  const raw = value.startsWith('4:') ? value.slice(2) : value;
  const digits = raw.replace(/[\s().-]/g, '');
  if (/^\+?\d{5,}$/.test(digits)) {
    const plus = digits.startsWith('+') ? '+' : '';
    const body = plus ? digits.slice(1) : digits;
    const keepHead = Math.min(2, body.length - 4);
    return `${plus}${body.slice(0, keepHead)}${'*'.repeat(body.length - keepHead - 2)}${body.slice(-2)}`;
  }
  // ACS user ids and other identifiers: keep the kind prefix and a short tail only.
  const tail = raw.slice(-4);
  const prefix = value.match(/^(\d+:[a-z]*:?)/i)?.[1] ?? '';
  return `${prefix}…${tail}`;
}

const phoneLike = /\+?\d[\d\s().-]{6,}\d/g;

/** Replaces anything that looks like a phone number inside free text (error messages, URLs). */
export function maskPhoneNumbersIn(text: string): string {
  return text.replace(phoneLike, (match) => (match.replace(/\D/g, '').length >= 7 ? maskPhoneNumber(match) : match));
}
