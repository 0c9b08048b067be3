import { describe, expect, it } from 'vitest';
import { createOutboundAudioData, createOutboundStopAudioData } from '@azure/communication-call-automation';
import { STOP_AUDIO_MESSAGE, encodeAudioFrame, parseAcsJson, parseAcsMessage } from './acs-media.js';

const pcm = Buffer.alloc(640, 1).toString('base64');

describe('parseAcsMessage', () => {
  it('reads AudioMetadata in ACS casing', () => {
    const r = parseAcsMessage(JSON.stringify({ kind: 'AudioMetadata', audioMetadata: { subscriptionId: 's', encoding: 'PCM', sampleRate: 16000, channels: 1, length: 640 } }));
    expect(r).toEqual({ ok: true, message: { kind: 'metadata', sampleRateHz: 16000, channels: 1, encoding: 'PCM', frameBytes: 640, subscriptionId: 's' } });
  });

  it('reads AudioData without decoding it, with its byte count', () => {
    const r = parseAcsMessage(JSON.stringify({ kind: 'AudioData', audioData: { data: pcm, silent: false, timestamp: 't', participantRawID: 'p' } }));
    expect(r).toEqual({ ok: true, message: { kind: 'audio', base64: pcm, byteLength: 640, silent: false, timestamp: 't', participantRawId: 'p' } });
  });

  it.each([
    { Kind: 'AudioData', AudioData: { Data: pcm, Silent: true } },
    { kind: 'audioData', audioData: { data: pcm, isSilent: true } },
    { Kind: 'AUDIODATA', AudioData: { data: pcm, silent: true } },
  ])('accepts casing variants %#', (message) => {
    const r = parseAcsMessage(JSON.stringify(message));
    expect(r.ok && r.message.kind === 'audio' && r.message.base64 === pcm && r.message.silent).toBe(true);
  });

  it('accepts a silent frame without data', () => {
    expect(parseAcsMessage('{"kind":"AudioData","audioData":{"silent":true}}')).toEqual({ ok: true, message: { kind: 'audio', base64: undefined, byteLength: 0, silent: true } });
  });

  it('keeps the speaker and timestamp of a silent frame without data (in unmixed audio, that speaker\'s zeros)', () => {
    const expected = { ok: true, message: { kind: 'audio', base64: undefined, byteLength: 0, silent: true, timestamp: 't', participantRawId: '4:+15550000002' } };
    expect(parseAcsMessage('{"kind":"AudioData","audioData":{"timestamp":"t","participantRawID":"4:+15550000002","data":"","silent":true}}')).toEqual(expected);
    expect(parseAcsMessage('{"kind":"AudioData","audioData":{"timestamp":"t","participantRawID":"4:+15550000002","silent":true}}')).toEqual(expected);
  });

  it('reads DTMF', () => {
    expect(parseAcsMessage('{"kind":"DtmfData","dtmfData":{"data":"3"}}')).toEqual({ ok: true, message: { kind: 'dtmf', tone: '3' } });
  });

  it.each([
    ['not JSON', 'hello', false, 'not_json'],
    ['binary that is not JSON', '\u0000\u0001', true, 'binary_not_json'],
    ['an array', '[1]', false, 'wrong_shape'],
    ['no kind', '{"audioData":{}}', false, 'wrong_shape'],
    ['an unknown kind', '{"kind":"Video"}', false, 'unknown_kind'],
    ['data that is not a string', '{"kind":"AudioData","audioData":{"data":5}}', false, 'wrong_shape'],
    ['invalid base64', '{"kind":"AudioData","audioData":{"data":"@@@@"}}', false, 'invalid_base64'],
    ['unpadded base64', '{"kind":"AudioData","audioData":{"data":"AAA"}}', false, 'invalid_base64'],
    ['an odd byte count', '{"kind":"AudioData","audioData":{"data":"AAAAAAA="}}', false, 'odd_byte_count'],
    ['empty audio that is not silent', '{"kind":"AudioData","audioData":{"data":""}}', false, 'empty_audio'],
    ['metadata without a rate', '{"kind":"AudioMetadata","audioMetadata":{"encoding":"PCM"}}', false, 'wrong_shape'],
  ])('rejects %s', (_name, text, binary, reason) => {
    const r = parseAcsMessage(text, binary);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
});

describe('outbound messages', () => {
  it('encodes audio frames and StopAudio byte for byte as the SDK\'s createOutboundAudioData / createOutboundStopAudioData', () => {
    expect(encodeAudioFrame(pcm)).toBe(createOutboundAudioData(pcm));
    expect(STOP_AUDIO_MESSAGE).toBe(createOutboundStopAudioData());
  });
});

describe('parseAcsMessage fast path', () => {
  it('unescapes JSON escapes inside the audio like the full parser', () => {
    const text = '{"kind":"AudioData","audioData":{"data":"AA\\u002BAAAAA","silent":false}}';
    expect(parseAcsMessage(text)).toEqual({ ok: true, message: { kind: 'audio', base64: 'AA+AAAAA', byteLength: 6, silent: false } });
  });

  it('rejects a message that starts like audio but is not JSON', () => {
    expect(parseAcsMessage('{"kind":"AudioData","audioData":{"data":"AAAA", oops')).toMatchObject({ ok: false, reason: 'not_json' });
  });

  it('reads the exact ACS message like the full parser, with its timestamp, participant and silent flag', () => {
    const exact = `{"kind":"AudioData","audioData":{"timestamp":"2026-11-22T03:00:00.020Z","participantRawID":"8:acs:p","data":"${pcm}","silent":true}}`;
    const spaced = exact.replace('{"timestamp"', '{ "timestamp"'); // valid JSON, not the exact shape: the full parser
    expect(parseAcsMessage(exact)).toEqual(parseAcsMessage(spaced));
    expect(parseAcsMessage(exact)).toEqual({
      ok: true,
      message: { kind: 'audio', base64: pcm, byteLength: 640, silent: true, timestamp: '2026-11-22T03:00:00.020Z', participantRawId: '8:acs:p' },
    });
    expect(parseAcsMessage(`{"kind":"AudioData","audioData":{"data":"${pcm}"}}\n`)).toMatchObject({ ok: true, message: { byteLength: 640, silent: false } });
  });

  it.each([
    ['trailing garbage', `{"kind":"AudioData","audioData":{"data":"AAAA","silent":false}}x`],
    ['a raw control character in a string', `{"kind":"AudioData","audioData":{"timestamp":"t\u0001","data":"AAAA"}}`],
    ['a missing closing brace', `{"kind":"AudioData","audioData":{"data":"AAAA","silent":false}`],
  ])('sends what only looks like the exact ACS message to the full parser, which refuses it: %s', (_name, text) => {
    expect(parseAcsMessage(text)).toMatchObject({ ok: false, reason: 'not_json' });
  });

  it('agrees with the full JSON parser on every one-character change of the exact ACS message', () => {
    const exact = `{"kind":"AudioData","audioData":{"timestamp":"2026-11-22T03:00:00Z","participantRawID":"8:acs:p","data":"AAAAAAAA","silent":false}}`;
    const replacements = ['"', '\\', '}', '{', ',', ':', ' ', '\n', '\u0001', 'x', 'A', '=', 'é'];
    let compared = 0;
    for (let at = 0; at <= exact.length; at++) {
      for (const r of replacements) {
        for (const text of [exact.slice(0, at) + r + exact.slice(at + 1), exact.slice(0, at) + r + exact.slice(at)]) {
          expect(parseAcsMessage(text), text).toEqual(parseAcsJson(text));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(3000);
  });

  it('rejects a wrong silent flag on the fast path too', () => {
    expect(parseAcsMessage('{"kind":"AudioData","audioData":{"data":"AAAA","silent":"yes"}}')).toMatchObject({ ok: false, reason: 'wrong_shape' });
  });
});
