import { describe, expect, it } from 'vitest';
import { isValidCallId } from './call-id.js';

describe('callId rule (shared by the Functions app and the worker)', () => {
  it('accepts ACS correlation ids and the ids the lab uses', () => {
    for (const id of ['6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6', 'call-1', 'a.b_c:d', 'x'.repeat(128)]) expect(isValidCallId(id)).toBe(true);
  });
  it('refuses what a URL, a log line or a session id would have to escape, and names made only of dots', () => {
    for (const id of ['', 'a/b', '..', '.', 'a b', 'a\u0000b', 'a\r\nb', 'abc\u202Edef', 'é', 'x'.repeat(129), undefined, 42]) expect(isValidCallId(id)).toBe(false);
  });
});
