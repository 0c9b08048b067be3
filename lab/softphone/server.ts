import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import type { EmulatedCall, PlaceCallOptions } from '../acs/emulator.js';
import type { TimelineEntry } from '../acs/timeline.js';
import { DTMF_KEYS } from '../acs/media-leg.js';
import { type Logger, silentLogger } from '../../shared/log.js';
import { faviconIco } from './favicon.js';
import { pcmSamplesOf } from '../audio/pcm-message.js';
import { serveCalleeSocket, type AddCallee } from '../acs/callee-link.js';

/**
 * The softphone: a static page and two WebSockets per browser tab. `/phone` places calls to the agent; `/callee`
 * makes the page a callee of outbound calls (the callee protocol of acs/callee-link.ts: the page registers, the
 * emulator rings it, the page accepts or declines). Text messages carry control and the call's timeline; binary
 * messages carry audio, PCM16 mono at the call's rate (what the page says → lab, what it hears ← lab).
 */
export interface SoftphoneServerOptions {
  placeCall(options?: PlaceCallOptions): Promise<EmulatedCall>;
  /** Registers the page as a callee with the ACS emulator; without it the page takes no calls. */
  addCallee?: AddCallee;
  /**
   * Asks the agent to call (POST /api/calls of the lab's Functions app, with its key, which the page never sees);
   * answers with the Functions app's status and body. Without it the page offers no such button.
   */
  requestOutboundCall?: (body: unknown) => Promise<{ status: number; body: unknown }>;
  port?: number;
  host?: string;
  logger?: Logger;
}

export interface SoftphoneServer {
  readonly url: string;
  close(): Promise<void>;
}

const clientMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('call'),
    from: z.string().regex(/^\+\d{6,15}$/, 'from must be an E.164 number such as +15550100001').optional(),
    to: z.string().regex(/^\+\d{6,15}$/, 'to must be an E.164 number such as +18005550100').optional(),
  }),
  z.object({ type: z.literal('hangup') }),
  // A keypad press: ACS sends it to the app as a DtmfData frame (the lab answers with enableDtmfTones).
  z.object({ type: z.literal('dtmf'), key: z.enum(DTMF_KEYS, { message: `key must be one of ${DTMF_KEYS.join(' ')}` }) }),
]);

const contentTypes: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** The page's files sit next to the source; the built copy (dist/) looks back at the source tree. */
function publicDir(): string {
  const candidates = [join(__dirname, 'public'), resolve(__dirname, '../../../lab/softphone/public')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

export async function startSoftphoneServer(options: SoftphoneServerOptions): Promise<SoftphoneServer> {
  const logger = (options.logger ?? silentLogger).child({ component: 'lab.softphone' });
  const root = publicDir();
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', 'app.js', 'mic-worklet.js', 'style.css']) {
    const path = join(root, name);
    if (existsSync(path)) files.set(`/${name}`, { body: readFileSync(path), type: contentTypes[extname(name)] ?? 'application/octet-stream' });
  }
  files.set('/favicon.ico', { body: faviconIco(), type: 'image/x-icon' });

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://lab').pathname;
    if (path === '/api/calls') return void requestCall(req, res);
    if (path === '/config.json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ callee: Boolean(options.addCallee), outbound: Boolean(options.requestOutboundCall) }));
      return;
    }
    const file = files.get(path === '/' ? '/index.html' : path);
    if (!file || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  wss.on('connection', (socket) => handlePhone(socket, options, logger));
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://lab').pathname;
    const addCallee = options.addCallee;
    if (path === '/phone') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else if (path === '/callee' && addCallee) wss.handleUpgrade(req, socket, head, (ws) => serveCalleeSocket(ws, addCallee, { name: 'softphone' }));
    else socket.destroy();
  });

  /** The page's "have the agent call me": forwarded to the lab's Functions app, which checks it as any request. */
  async function requestCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!options.requestOutboundCall) return reply(404, { error: 'outbound calls are not wired to this softphone' });
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 8192) return reply(413, { error: 'body larger than 8 KiB' });
      chunks.push(chunk as Buffer);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { error: 'body is not JSON' });
    }
    try {
      const answer = await options.requestOutboundCall(body);
      reply(answer.status, answer.body);
    } catch (error) {
      reply(502, { error: `the Functions app did not answer: ${(error as Error).message}` });
    }
  }
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ready());
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

function handlePhone(socket: WebSocket, options: SoftphoneServerOptions, logger: Logger): void {
  let call: EmulatedCall | undefined;
  const send = (message: object) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      const samples = pcmSamplesOf(data);
      if (call && samples) call.say(samples);
      return;
    }
    let parsed: z.infer<typeof clientMessage>;
    try {
      const result = clientMessage.safeParse(JSON.parse(data.toString()));
      if (!result.success) return send({ type: 'error', message: `bad message: ${result.error.issues.map((i) => i.message).join('; ')}` });
      parsed = result.data;
    } catch {
      return send({ type: 'error', message: 'bad message: not JSON' });
    }
    if (parsed.type === 'call') {
      if (call && !call.isOver) return send({ type: 'error', message: 'a call is already in progress' });
      void place({ ...(parsed.from ? { from: parsed.from } : {}), ...(parsed.to ? { to: parsed.to } : {}) });
    } else if (parsed.type === 'dtmf') {
      if (!call || call.isOver) return send({ type: 'error', message: 'no call in progress to press a key on' });
      call.pressKey(parsed.key);
    } else if (call && !call.isOver) {
      void call.hangUp();
    }
  });
  socket.on('close', () => {
    if (call && !call.isOver) void call.hangUp();
  });

  async function place(numbers: Pick<PlaceCallOptions, 'from' | 'to'>): Promise<void> {
    let placed: EmulatedCall;
    try {
      placed = await options.placeCall(numbers);
    } catch (error) {
      return send({ type: 'error', message: `could not place the call: ${(error as Error).message}` });
    }
    call = placed;
    logger.info({ callId: placed.callId }, 'softphone call placed');
    send({ type: 'placed', callId: placed.callId });
    const forward = (entry: TimelineEntry) => {
      send({ type: 'timeline', entry });
      if (entry.source === 'media' && entry.type === 'connected') send({ type: 'format', sampleRateHz: placed.sampleRateHz });
    };
    for (const entry of placed.timeline.entries) forward(entry);
    placed.on('timeline', forward);
    placed.on('heard', (frame) => {
      if (socket.readyState === socket.OPEN) socket.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), { binary: true });
    });
    void placed.ended().then((state) => send({ type: 'ended', state }));
  }
}
