import type { ConversationItem, ServerEvent } from './events.js';

export type ConversationRole = 'user' | 'assistant' | 'system';

export type ConversationEntry =
  | { kind: 'message'; role: ConversationRole; itemId?: string; text?: string; audioMs?: number; heardMs?: number }
  | { kind: 'function_call'; itemId?: string; name?: string; callId?: string; arguments?: string }
  | { kind: 'function_call_output'; itemId?: string; callId?: string; output?: string };

export interface ConversationLogOptions {
  /** The session's output rate, to turn received assistant audio into milliseconds. */
  outputRateHz: number;
  /** Oldest entries are forgotten beyond this; a replay carries at most this many. */
  maxEntries?: number;
}

/** `streamedText`: an assistant message's transcript so far, while its audio is still streaming (no final text yet). */
type Entry = ConversationEntry & { audioBase64Chars?: number; streamedText?: string };

export interface ReplayPlan {
  items: Record<string, unknown>[];
  entries: Set<ConversationEntry>;
  /** The item id each replayed item had where it was first created (undefined for one never acknowledged), by index. */
  sourceItemIds: (string | undefined)[];
}

const MAX_PENDING_CLIENT_ITEMS = 32;

/**
 * The conversation as the caller experienced it, rebuilt from server events (and items the client
 * created), so a new Voice Live session can be given the same context as `conversation.item.create`s.
 * Assistant messages that were interrupted keep only the share of text that matches the audio heard.
 */
export class ConversationLog {
  private readonly entries: Entry[] = [];
  private readonly byItemId = new Map<string, Entry>();
  /** Client-created items waiting for the server's `conversation.item.created` to learn their id. */
  private readonly pendingClientItems: Entry[] = [];
  private readonly bytesPerMs: number;
  private readonly maxEntries: number;

  constructor(options: ConversationLogOptions) {
    this.bytesPerMs = (options.outputRateHz * 2) / 1000;
    this.maxEntries = options.maxEntries ?? 500;
  }

  get size(): number {
    return this.entries.length;
  }

  /** A copy of the entries in conversation order (assistant text already cut to what was heard). */
  snapshot(): ConversationEntry[] {
    return this.entries.map((entry) => this.view(entry));
  }

  /**
   * Puts a conversation another replica had (the entries as `snapshot()` gave them, assistant text already cut
   * to what was heard) before everything recorded here, so every later replay starts with it. Item ids are
   * dropped: they belonged to the old session. Returns the items that rebuild the seeded part, oldest first.
   */
  seed(entries: readonly ConversationEntry[]): Record<string, unknown>[] {
    const seeded: Entry[] = entries.map((entry) => {
      const { itemId: _oldId, ...rest } = entry;
      if (rest.kind !== 'message') return rest;
      const { audioMs: _audio, heardMs: _heard, ...message } = rest;
      return message;
    });
    this.entries.unshift(...seeded);
    while (this.entries.length > this.maxEntries) {
      const dropped = this.entries.shift();
      if (dropped?.itemId !== undefined) this.byItemId.delete(dropped.itemId);
    }
    return seeded.filter((entry) => this.entries.includes(entry)).map((entry) => this.toItem(entry)).filter((item): item is Record<string, unknown> => item !== undefined);
  }

  /** Hot path: counts an assistant item's audio without decoding it. */
  addAudio(itemId: string, base64Length: number): void {
    const entry = this.byItemId.get(itemId);
    if (entry && entry.kind === 'message') entry.audioBase64Chars = (entry.audioBase64Chars ?? 0) + base64Length;
  }

  /** Records an item this client sends with `conversation.item.create`. */
  recordClientItem(item: Record<string, unknown>): void {
    const entry = entryFromItem(item as ConversationItem);
    if (!entry) return;
    this.push(entry, undefined);
    this.pendingClientItems.push(entry);
    // An item dropped while no session was open is never acknowledged: forget the oldest beyond a bound.
    if (this.pendingClientItems.length > MAX_PENDING_CLIENT_ITEMS) this.pendingClientItems.shift();
  }

  onServerEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'conversation.item.created': {
        const item = event.item;
        const known = item.id !== undefined ? this.byItemId.get(item.id) : undefined;
        if (known) return;
        // The server may create the caller's turn before it acknowledges ours: only an item of the same kind,
        // role and call is ours (else the caller's words could be replayed as a system message).
        const index = item.id !== undefined ? this.pendingClientItems.findIndex((entry) => isSameItem(entry, item)) : -1;
        const pending = index >= 0 ? this.pendingClientItems.splice(index, 1)[0] : undefined;
        if (pending && item.id !== undefined) {
          pending.itemId = item.id;
          this.byItemId.set(item.id, pending);
          return;
        }
        const entry = entryFromItem(item);
        if (entry) this.push(entry, event.previous_item_id ?? undefined);
        return;
      }
      case 'response.output_item.done': {
        const item = event.item;
        let entry = item.id !== undefined ? this.byItemId.get(item.id) : undefined;
        if (!entry) {
          const created = entryFromItem(item);
          if (!created) return;
          this.push(created, undefined);
          entry = created;
        }
        fillFromItem(entry, item);
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'message') entry.text = event.transcript;
        return;
      }
      case 'response.audio_transcript.delta': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'message' && entry.text === undefined) entry.streamedText = (entry.streamedText ?? '') + event.delta;
        return;
      }
      case 'response.audio_transcript.done': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'message') entry.text = event.transcript;
        return;
      }
      case 'response.text.done': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'message') entry.text = event.text;
        return;
      }
      case 'response.function_call_arguments.done': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'function_call') {
          entry.arguments = event.arguments;
          entry.callId = event.call_id;
          if (event.name) entry.name = event.name;
        }
        return;
      }
      case 'conversation.item.truncated': {
        const entry = this.byItemId.get(event.item_id);
        if (entry && entry.kind === 'message') entry.heardMs = event.audio_end_ms;
        return;
      }
      case 'conversation.item.deleted': {
        const entry = this.byItemId.get(event.item_id);
        if (!entry) return;
        this.byItemId.delete(event.item_id);
        const index = this.entries.indexOf(entry);
        if (index >= 0) this.entries.splice(index, 1);
        return;
      }
      default:
        return;
    }
  }

  /**
   * The items that rebuild this conversation in a new session, oldest first. Entries in `exclude` (already
   * replayed) and entries with nothing to say (a user turn with no transcript) are skipped.
   */
  replayItems(exclude?: ReadonlySet<ConversationEntry>, options: { includeStreaming?: boolean } = {}): ReplayPlan {
    const items: Record<string, unknown>[] = [];
    const entries = new Set<ConversationEntry>();
    const sourceItemIds: (string | undefined)[] = [];
    for (const entry of this.entries) {
      if (exclude?.has(entry)) continue;
      // A reply still streaming is replayed only when a session takes over now (it is cut there); otherwise it
      // would be carried over half-said, and not again once complete.
      if (entry.kind === 'message' && entry.text === undefined && entry.streamedText !== undefined && !options.includeStreaming) continue;
      const item = this.toItem(entry);
      if (!item) continue;
      items.push(item);
      entries.add(entry);
      sourceItemIds.push(entry.itemId);
    }
    return { items, entries, sourceItemIds };
  }

  /**
   * An assistant item replayed into another session was cut by a barge-in there: records what was heard and
   * returns the item as it should now read (undefined when nothing of it was heard, or it is unknown).
   */
  /** The item as a replay would give it now (undefined when there is nothing to say, or it is unknown). */
  currentItem(itemId: string): Record<string, unknown> | undefined {
    const entry = this.byItemId.get(itemId);
    return entry ? this.toItem(entry) : undefined;
  }

  truncateReplayed(itemId: string, heardMs: number): Record<string, unknown> | undefined {
    const entry = this.byItemId.get(itemId);
    if (!entry || entry.kind !== 'message') return undefined;
    entry.heardMs = Math.max(0, Math.floor(heardMs));
    return this.toItem(entry);
  }

  private toItem(entry: Entry): Record<string, unknown> | undefined {
    switch (entry.kind) {
      case 'message': {
        const text = this.heardText(entry);
        if (!text) return undefined;
        const partType = entry.role === 'assistant' ? 'text' : 'input_text';
        return { type: 'message', role: entry.role, content: [{ type: partType, text }] };
      }
      case 'function_call':
        if (!entry.callId || !entry.name) return undefined;
        return { type: 'function_call', name: entry.name, call_id: entry.callId, arguments: entry.arguments ?? '{}' };
      case 'function_call_output':
        if (!entry.callId) return undefined;
        return { type: 'function_call_output', call_id: entry.callId, output: entry.output ?? '' };
    }
  }

  private view(entry: Entry): ConversationEntry {
    const { audioBase64Chars, ...rest } = entry;
    if (entry.kind !== 'message' || rest.kind !== 'message') return { ...rest };
    const audioMs = audioBase64Chars !== undefined ? this.base64ToMs(audioBase64Chars) : undefined;
    const text = this.heardText(entry);
    return { ...rest, ...(text !== undefined ? { text } : {}), ...(audioMs !== undefined ? { audioMs } : {}) };
  }

  private heardText(entry: Entry & { kind: 'message' }): string | undefined {
    const text = entry.text ?? entry.streamedText;
    if (text === undefined || entry.heardMs === undefined || entry.audioBase64Chars === undefined) return text;
    const totalMs = this.base64ToMs(entry.audioBase64Chars);
    if (totalMs <= 0 || entry.heardMs >= totalMs) return text;
    return cutAtWord(text, entry.heardMs / totalMs);
  }

  private base64ToMs(chars: number): number {
    return Math.round((chars * 3) / 4 / this.bytesPerMs);
  }

  private push(entry: Entry, previousItemId: string | undefined): void {
    if (entry.itemId !== undefined) this.byItemId.set(entry.itemId, entry);
    const previous = previousItemId !== undefined ? this.byItemId.get(previousItemId) : undefined;
    const at = previous ? this.entries.indexOf(previous) : -1;
    if (at >= 0) this.entries.splice(at + 1, 0, entry);
    else this.entries.push(entry);
    while (this.entries.length > this.maxEntries) {
      const dropped = this.entries.shift();
      if (dropped?.itemId !== undefined) this.byItemId.delete(dropped.itemId);
    }
  }
}

function isSameItem(entry: Entry, item: ConversationItem): boolean {
  if (entry.kind !== kindOf(item)) return false;
  if (entry.kind === 'message') return entry.role === item.role;
  return entry.callId === undefined || entry.callId === item.call_id;
}

function kindOf(item: ConversationItem): ConversationEntry['kind'] | undefined {
  if (item.type === 'message' || item.type === 'function_call' || item.type === 'function_call_output') return item.type;
  return undefined;
}

function entryFromItem(item: ConversationItem): Entry | undefined {
  const base = item.id !== undefined ? { itemId: item.id } : {};
  let entry: Entry;
  switch (kindOf(item)) {
    case 'message': {
      const role = item.role === 'user' || item.role === 'assistant' || item.role === 'system' ? item.role : undefined;
      if (!role) return undefined;
      entry = { kind: 'message', role, ...base };
      break;
    }
    case 'function_call':
      entry = { kind: 'function_call', ...base };
      break;
    case 'function_call_output':
      entry = { kind: 'function_call_output', ...base };
      break;
    default:
      return undefined;
  }
  fillFromItem(entry, item);
  return entry;
}

function fillFromItem(entry: Entry, item: ConversationItem): void {
  if (entry.kind === 'message') {
    const text = (item.content ?? [])
      .map((part) => part.text ?? part.transcript ?? '')
      .filter((part) => part.length > 0)
      .join(' ');
    if (text.length > 0) entry.text = text;
  } else if (entry.kind === 'function_call') {
    if (item.name) entry.name = item.name;
    if (item.call_id) entry.callId = item.call_id;
    if (item.arguments) entry.arguments = item.arguments;
  } else {
    if (item.call_id) entry.callId = item.call_id;
    if (item.output !== undefined && item.output !== null) entry.output = item.output;
  }
}

/** The first `fraction` of the text, ending on a word boundary, marked as cut off. */
function cutAtWord(text: string, fraction: number): string {
  const target = Math.floor(text.length * fraction);
  if (target <= 0) return '';
  const space = text.lastIndexOf(' ', target);
  const cut = (space > 0 ? text.slice(0, space) : text.slice(0, target)).trimEnd();
  return cut.length > 0 ? `${cut}…` : '';
}
