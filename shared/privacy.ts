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

// Call ids (GUIDs), ISO dates/times and IPv4 addresses are matched first and kept, so that only the last
// alternative (a run of digits with phone punctuation) is masked: a log must keep the ids it is read by. That run
// must start a token: digits inside an identifier (Voice Live's `item_43726586…`, a hex id) are not a number.
const phoneLike =
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?|\b\d{1,3}(?:\.\d{1,3}){3}\b|(?<!\w)(\+?\d[\d\s().-]{6,}\d)/gi;

/** Replaces anything that looks like a phone number inside free text (error messages, URLs). */
export function maskPhoneNumbersIn(text: string): string {
  return text.replace(phoneLike, (match, phone: string | undefined) =>
    phone !== undefined && phone.replace(/\D/g, '').length >= 7 ? maskPhoneNumber(phone) : match,
  );
}
