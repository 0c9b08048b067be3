import { describe, expect, it } from 'vitest';
import { parseCsv, readCampaign } from './csv.js';

describe('campaign CSV', () => {
  it('parses quoted fields with commas, doubled quotes and CRLF line ends', () => {
    expect(parseCsv('to,note\r\n+15550100001,"Hi, ""Ada"""\r\n')).toEqual([
      ['to', 'note'],
      ['+15550100001', 'Hi, "Ada"'],
    ]);
  });

  it('turns request columns into fields and every other column into context, with the default profile and a per-row idempotency key', () => {
    const { rows, problems } = readCampaign('to,name,appointment\n+15550100001,Ada,Tue 10:00\n', { profile: 'reminders', campaign: 'dec' });
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { rowNumber: 2, request: { to: '+15550100001', profile: 'reminders', context: { name: 'Ada', appointment: 'Tue 10:00' }, idempotencyKey: 'dec:2' } },
    ]);
  });

  it('names the row and field of every bad row, and a file without a to column', () => {
    const { problems } = readCampaign('to,profile,notBefore\n5550100001,ok,\n+15550100002,Bad Name,\n+15550100003,,soon\n+1555,x\n', { campaign: 'c' });
    expect(problems).toEqual([
      { rowNumber: 2, field: 'to', message: expect.stringContaining('E.164') },
      { rowNumber: 3, field: 'profile', message: expect.any(String) },
      { rowNumber: 4, field: 'notBefore', message: expect.stringContaining('ISO 8601') },
      { rowNumber: 5, field: 'row', message: '2 fields, the header has 3' },
    ]);
    expect(readCampaign('name\nAda\n', { campaign: 'c' }).problems).toEqual([{ rowNumber: 1, field: 'header', message: 'no "to" column' }]);
  });
});
