import type { TokenPrices } from '../../shared/config/call-control.js';
import type { CallRecord, Usage } from '../../shared/call-record.js';

export const emptyUsage = (): Usage => ({
  responses: 0,
  audioTokensIn: 0,
  textTokensIn: 0,
  cachedTokensIn: 0,
  cachedAudioTokensIn: 0,
  audioTokensOut: 0,
  textTokensOut: 0,
  totalTokens: 0,
});

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.round(value) : 0);

/** Adds one `response.done` usage object (snake_case, as Voice Live sends it) to the running totals. */
export function addUsage(total: Usage, usage: Record<string, unknown> | null | undefined): void {
  total.responses++;
  if (!usage) return;
  const inDetails = (usage.input_token_details ?? {}) as Record<string, unknown>;
  const outDetails = (usage.output_token_details ?? {}) as Record<string, unknown>;
  const audioIn = num(inDetails.audio_tokens);
  const textIn = num(inDetails.text_tokens);
  const audioOut = num(outDetails.audio_tokens);
  const textOut = num(outDetails.text_tokens);
  total.audioTokensIn += audioIn;
  // Without a breakdown, the totals count as text: the cheaper assumption is the wrong one to make silently.
  total.textTokensIn += audioIn + textIn === 0 ? num(usage.input_tokens) : textIn;
  total.cachedTokensIn += num(inDetails.cached_tokens);
  const cachedDetails = inDetails.cached_tokens_details;
  if (typeof cachedDetails === 'object' && cachedDetails !== null) {
    total.cachedAudioTokensIn = (total.cachedAudioTokensIn ?? 0) + num((cachedDetails as Record<string, unknown>).audio_tokens);
  }
  total.audioTokensOut += audioOut;
  total.textTokensOut += audioOut + textOut === 0 ? num(usage.output_tokens) : textOut;
  total.totalTokens += num(usage.total_tokens) || num(usage.input_tokens) + num(usage.output_tokens);
}

const round = (value: number): number => Math.round(value * 1e6) / 1e6;

/**
 * Prices tokens per million and call time per started-or-not minute (pro rata). Cached input tokens are
 * charged at the cached rate instead of the input rate: the audio share Voice Live reported as audio, the rest
 * (whose split was not reported) taken from text input first, then audio.
 */
export function priceCall(usage: Usage, durationMs: number, prices: TokenPrices): CallRecord['cost'] {
  const reportedCachedAudio = Math.min(usage.cachedAudioTokensIn ?? 0, usage.cachedTokensIn, usage.audioTokensIn);
  const cachedText = Math.min(usage.cachedTokensIn - reportedCachedAudio, usage.textTokensIn);
  const cachedAudio = Math.min(usage.cachedTokensIn - cachedText, usage.audioTokensIn);
  const perToken = (rate: number) => rate / 1_000_000;
  const tokens =
    (usage.textTokensIn - cachedText) * perToken(prices.textInputPer1M) +
    (usage.audioTokensIn - cachedAudio) * perToken(prices.audioInputPer1M) +
    (cachedText + cachedAudio) * perToken(prices.cachedInputPer1M) +
    usage.textTokensOut * perToken(prices.textOutputPer1M) +
    usage.audioTokensOut * perToken(prices.audioOutputPer1M);
  const callMinutes = durationMs / 60_000;
  const minutes = callMinutes * prices.callPerMinute;
  return {
    currency: prices.currency,
    tokens: round(tokens),
    callMinutes: round(callMinutes),
    minutes: round(minutes),
    total: round(tokens + minutes),
    rates: {
      audioInputPer1M: prices.audioInputPer1M,
      audioOutputPer1M: prices.audioOutputPer1M,
      textInputPer1M: prices.textInputPer1M,
      textOutputPer1M: prices.textOutputPer1M,
      cachedInputPer1M: prices.cachedInputPer1M,
      callPerMinute: prices.callPerMinute,
    },
  };
}
