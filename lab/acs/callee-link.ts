import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { maskPhoneNumber } from '../../shared/privacy.js';
import type { EmulatedCall } from './emulator.js';
import { DTMF_KEYS } from './media-leg.js';
import { CalleeRegistrationError, type LiveCallee, type RingingCall } from './outbound.js';
import type { TimelineEntry } from './timeline.js';
import { pcmSamplesOf } from '../audio/pcm-message.js';

/**
 * The callee protocol: one WebSocket per live callee (the softphone page through its server, `npm run call --
 * --answer` straight to the emulator's `/lab/callee`). The client registers, then each call placed to its id or
 * number rings it; it answers, declines, says busy or lets it ring out. Once answered, binary messages carry audio
 * both ways (PCM16 mono at the call's rate: what the callee says →, what it hears ←) and text messages the call's
 * timeline, as the softphone's caller socket does.
 *
 * client → `{type:'register', name?, number?}` (first), `accept`, `decline`, `busy`, `hangup`, `{type:'dtmf', key}`
 * server → `registered {rawId, phoneNumber}`, `ringing {callId, from}`, `timeline {entry}`, `format {sampleRateHz}`,
 *          `ended {state, outcome}`, `error {message}`
 */

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('register'), name: z.string().optional(), number: z.string().optional() }).strict(),
  z.object({ type: z.literal('accept') }).strict(),
  z.object({ type: z.literal('decline') }).strict(),
  z.object({ type: z.literal('busy') }).strict(),
  z.object({ type: z.literal('hangup') }).strict(),
  z.object({ type: z.literal('dtmf'), key: z.enum(DTMF_KEYS, { message: `key must be one of ${DTMF_KEYS.join(' ')}` }) }).strict(),
]);

export type AddCallee = (ring: (ringing: RingingCall) => void, options?: { name?: string; phoneNumber?: string }) => LiveCallee;

/** Serves one callee socket until it closes; closing it unregisters the callee and hangs up its call. */
export function serveCalleeSocket(socket: WebSocket, addCallee: AddCallee, defaults: { name?: string } = {}): void {
  let callee: LiveCallee | undefined;
  let ringing: RingingCall | undefined;
  let call: EmulatedCall | undefined;
  const send = (message: object) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const inCall = () => call !== undefined && !call.isOver;

  function ring(incoming: RingingCall): void {
    // One call at a time, as a phone without call waiting: a second caller hears busy.
    if (inCall() || socket.readyState !== socket.OPEN) return incoming.busy();
    ringing = incoming;
    const current = (call = incoming.call);
    send({ type: 'ringing', callId: current.callId, from: maskPhoneNumber(current.from) });
    const forward = (entry: TimelineEntry) => {
      send({ type: 'timeline', entry });
      if (entry.source === 'media' && entry.type === 'connected') send({ type: 'format', sampleRateHz: current.sampleRateHz });
    };
    for (const entry of current.timeline.entries) forward(entry);
    current.on('timeline', forward);
    const hear = (frame: Int16Array) => {
      if (socket.readyState === socket.OPEN) socket.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), { binary: true });
    };
    current.on('heard', hear);
    void incoming.settled.then((outcome) => {
      if (ringing === incoming) ringing = undefined;
      void current.ended().then((state) => {
        current.off('timeline', forward);
        current.off('heard', hear);
        send({ type: 'ended', state, outcome });
      });
    });
  }

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      const samples = pcmSamplesOf(data);
      if (call && !call.isOver && !ringing && samples) call.say(samples);
      return;
    }
    let parsed: z.infer<typeof clientMessage>;
    try {
      const result = clientMessage.safeParse(JSON.parse(data.toString()));
      if (!result.success) return send({ type: 'error', message: `bad message: ${result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}` });
      parsed = result.data;
    } catch {
      return send({ type: 'error', message: 'bad message: not JSON' });
    }
    switch (parsed.type) {
      case 'register':
        if (callee) return send({ type: 'error', message: `already registered as ${callee.phoneNumber} and ${callee.rawId}` });
        try {
          callee = addCallee(ring, { name: parsed.name ?? defaults.name ?? 'callee', ...(parsed.number ? { phoneNumber: parsed.number } : {}) });
        } catch (error) {
          if (!(error instanceof CalleeRegistrationError)) throw error;
          return send({ type: 'error', message: `cannot register: ${error.message}` });
        }
        return send({ type: 'registered', rawId: callee.rawId, phoneNumber: callee.phoneNumber });
      case 'accept':
      case 'decline':
      case 'busy':
        if (!ringing) return send({ type: 'error', message: `nothing is ringing to ${parsed.type}` });
        return ringing[parsed.type]();
      case 'hangup':
        if (!inCall()) return send({ type: 'error', message: 'no call in progress to hang up' });
        if (ringing) return ringing.decline();
        return void call!.hangUp();
      case 'dtmf':
        if (!inCall() || ringing) return send({ type: 'error', message: 'no call in progress to press a key on' });
        call!.pressKey(parsed.key);
        return;
    }
  });
  socket.on('close', () => {
    callee?.remove();
    if (inCall() && !ringing) void call!.hangUp();
  });
}
