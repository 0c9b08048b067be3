/**
 * What the ACS emulator shows a judge: every payload it puts on the wire, before it leaves. A judge (the official
 * SDK parsers, `official-judge.ts`) records what it could not read; the emulator itself never depends on one.
 */
export interface WireJudge {
  /** One Event Grid delivery body (an array of Event Grid schema events) of `eventType`. */
  eventGridDelivery(body: string, eventType: string): void;
  /** One callback body (an array of CloudEvents) posted to the app. */
  callback(body: string): void;
  /** One message sent on the media WebSocket. */
  mediaFrame(text: string): void;
}
