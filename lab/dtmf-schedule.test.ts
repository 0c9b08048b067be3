import { describe, expect, it } from 'vitest';
import { parseDtmfSchedule } from './dtmf-schedule.js';

describe('the --dtmf schedule of npm run call', () => {
  it('reads comma-separated key@time presses in seconds or milliseconds, in time order', () => {
    expect(parseDtmfSchedule('0@9s, 1@3.5s,#@250ms,*@1s')).toEqual([
      { key: '#', atMs: 250 },
      { key: '*', atMs: 1000 },
      { key: '1', atMs: 3500 },
      { key: '0', atMs: 9000 },
    ]);
  });

  it.each(['', '1', '1@', 'x@1s', '1@3.5', '12@1s', '1@-1s', '1@1m'])('refuses %j with the expected form in the message', (text) => {
    expect(() => parseDtmfSchedule(text)).toThrow(/--dtmf: .*(e\.g\. "1@3\.5s,0@9s")/);
  });
});
