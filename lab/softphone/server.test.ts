import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startSoftphoneServer, type SoftphoneServer } from './server.js';
import { AcsEmulatorError } from '../acs/emulator.js';
import { requestOutboundCall } from './request-call.js';

/** The softphone's own server, without a lab behind it: static files and the control protocol's bad input. */
describe('softphone server', () => {
  let server: SoftphoneServer;
  beforeAll(async () => {
    server = await startSoftphoneServer({ placeCall: async () => Promise.reject(new AcsEmulatorError('validation_failed', 'webhook unreachable')) });
  });
  afterAll(async () => server.close());

  const exchange = (messages: (string | Buffer)[]) =>
    new Promise<{ type: string; message?: string }[]>((resolve) => {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/phone`);
      const received: { type: string; message?: string }[] = [];
      socket.on('open', () => messages.forEach((m) => socket.send(m)));
      socket.on('message', (data) => {
        received.push(JSON.parse(data.toString()));
        if (received.length === messages.filter((m) => typeof m === 'string').length) {
          socket.close();
          resolve(received);
        }
      });
    });

  it('serves the page, its script and its AudioWorklet, and nothing else', async () => {
    expect((await fetch(server.url)).headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${server.url}/app.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/mic-worklet.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/../package.json`)).status).toBe(404);
  });

  it('serves a 16×16 icon at /favicon.ico, drawn in code, so the browser\'s request for it does not fail', async () => {
    const response = await fetch(`${server.url}/favicon.ico`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/x-icon');
    const ico = Buffer.from(await response.arrayBuffer());
    // ICONDIR: reserved 0, type 1 (icon), one image; its entry: 16×16, 32 bits per pixel, the image right after.
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([0, 1, 1]);
    expect([ico[6], ico[7], ico.readUInt16LE(12), ico.readUInt32LE(18)]).toEqual([16, 16, 32, 22]);
    expect(ico.length).toBe(22 + ico.readUInt32LE(14));
  });

  it('answers malformed control messages with an error and keeps the socket, and reports a call that cannot be placed', async () => {
    const replies = await exchange([
      'not json',
      JSON.stringify({ type: 'dance' }),
      Buffer.from([1, 2, 3]),
      JSON.stringify({ type: 'call', to: '555-0100' }),
      JSON.stringify({ type: 'dtmf', key: 'A' }),
      JSON.stringify({ type: 'dtmf', key: '5' }),
      JSON.stringify({ type: 'call' }),
    ]);
    expect(replies.map((r) => r.type)).toEqual(['error', 'error', 'error', 'error', 'error', 'error']);
    expect(replies[3]!.message).toMatch(/key must be one of 0 1 2 3 4 5 6 7 8 9 \* #/);
    expect(replies[4]!.message).toMatch(/no call in progress/);
    expect(replies[0]!.message).toMatch(/not JSON/);
    expect(replies[2]!.message).toMatch(/to must be an E\.164 number/);
    expect(replies[5]!.message).toMatch(/could not place the call: webhook unreachable/);
  });

  it('takes no outbound calls unless the lab wires it: config.json says so, /callee is refused, /api/calls is 404', async () => {
    expect(await (await fetch(`${server.url}/config.json`)).json()).toEqual({ callee: false, outbound: false });
    const refused = await new Promise<string>((resolve) => {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/callee`);
      socket.on('open', () => resolve('open'));
      socket.on('error', (error) => resolve(error.message));
    });
    expect(refused).not.toBe('open');
    const response = await fetch(`${server.url}/api/calls`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
  });

  it('forwards "have the agent call me" to the Functions app, answering bad input itself and an unreachable app with 502', async () => {
    const wired = await startSoftphoneServer({
      placeCall: async () => Promise.reject(new AcsEmulatorError('closed', 'no lab')),
      requestOutboundCall: (body) => requestOutboundCall('http://127.0.0.1:9/api/calls?code=k', body),
    });
    try {
      const post = (body: string, method = 'POST') => fetch(`${wired.url}/api/calls`, { method, ...(method === 'POST' ? { body } : {}) });
      expect((await post('', 'GET')).status).toBe(405);
      expect(await (await post('{nope')).json()).toEqual({ error: 'body is not JSON' });
      expect((await post(JSON.stringify({ to: 'x'.repeat(9000) }))).status).toBe(413);
      const unreachable = await post(JSON.stringify({ to: '+15550120001' }));
      expect(unreachable.status).toBe(502);
      expect(await unreachable.json()).toEqual({ error: expect.stringMatching(/^the Functions app did not answer/) });
      expect(await (await fetch(`${wired.url}/config.json`)).json()).toEqual({ callee: false, outbound: true });
    } finally {
      await wired.close();
    }
  });
});
