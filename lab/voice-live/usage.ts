// Token usage as the Voice Live emulator reports it in `response.done`. The shape is the documented one
// (usage.input_token_details with cached_tokens_details, output_token_details); the counts are an estimate:
// the service's tokenizer and cache are not emulated (see docs/fidelity/voice-live.md).

/** Voice Live overview: about 10 tokens per second of input audio and 20 per second of output audio. */
const INPUT_AUDIO_TOKENS_PER_SECOND = 10;
const OUTPUT_AUDIO_TOKENS_PER_SECOND = 20;
/** A rough text tokenizer: one token per four characters. */
const CHARS_PER_TOKEN = 4;
/** Prompt caching reuses the prefix the previous response saw, in blocks of this many tokens (OpenAI's rule). */
const CACHE_BLOCK_TOKENS = 64;

export interface WireUsage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_token_details: {
    cached_tokens: number;
    text_tokens: number;
    audio_tokens: number;
    image_tokens: number;
    cached_tokens_details: { text_tokens: number; audio_tokens: number; image_tokens: number };
  };
  output_token_details: { text_tokens: number; audio_tokens: number };
}

export const textTokens = (text: string): number => (text.length === 0 ? 0 : Math.ceil(text.length / CHARS_PER_TOKEN));

/**
 * The conversation a response is generated from, in tokens: the session's instructions and tools, then
 * every item so far. Each response reads all of it; what the previous response already read is cached.
 */
export class UsageMeter {
  private promptTextTokens = 0;
  private itemTextTokens = 0;
  private itemAudioTokens = 0;
  private previousInput: { text: number; audio: number } | undefined;

  /** The session's instructions and tool definitions (sent with every response). */
  setPrompt(session: Record<string, unknown>): void {
    const instructions = typeof session.instructions === 'string' ? session.instructions : '';
    const tools = Array.isArray(session.tools) && session.tools.length > 0 ? JSON.stringify(session.tools) : '';
    this.promptTextTokens = textTokens(instructions) + textTokens(tools);
  }

  addInputAudio(ms: number): void {
    this.itemAudioTokens += Math.round((Math.max(0, ms) / 1000) * INPUT_AUDIO_TOKENS_PER_SECOND);
  }

  addText(text: string): void {
    this.itemTextTokens += textTokens(text);
  }

  /** The usage of a response that produced this much audio and text; its output joins the conversation. */
  respond(output: { audioMs: number; text: string }): WireUsage {
    const inputText = this.promptTextTokens + this.itemTextTokens;
    const inputAudio = this.itemAudioTokens;
    const input = inputText + inputAudio;
    const previous = this.previousInput;
    let cachedText = 0;
    let cachedAudio = 0;
    if (previous) {
      const previousTotal = previous.text + previous.audio;
      const cached = Math.floor(Math.min(previousTotal, input) / CACHE_BLOCK_TOKENS) * CACHE_BLOCK_TOKENS;
      // The prefix starts with the instructions (text), so the cached share is text first.
      cachedText = Math.min(cached, previous.text, inputText);
      cachedAudio = Math.min(cached - cachedText, inputAudio);
    }
    this.previousInput = { text: inputText, audio: inputAudio };

    const audioOut = Math.round((Math.max(0, output.audioMs) / 1000) * OUTPUT_AUDIO_TOKENS_PER_SECOND);
    const textOut = textTokens(output.text);
    // What the assistant said is part of the conversation the next response reads (as audio, and its text).
    this.itemAudioTokens += audioOut;
    if (audioOut === 0) this.itemTextTokens += textOut;
    return {
      total_tokens: input + audioOut + textOut,
      input_tokens: input,
      output_tokens: audioOut + textOut,
      input_token_details: {
        cached_tokens: cachedText + cachedAudio,
        text_tokens: inputText,
        audio_tokens: inputAudio,
        image_tokens: 0,
        cached_tokens_details: { text_tokens: cachedText, audio_tokens: cachedAudio, image_tokens: 0 },
      },
      output_token_details: { text_tokens: textOut, audio_tokens: audioOut },
    };
  }
}
