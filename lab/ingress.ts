import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A small stand-in for the Container Apps ingress in front of several worker replicas: each new connection
 * (a media WebSocket upgrade, or a plain HTTP request) goes to the next healthy replica in turn. A replica is
 * healthy while its /readyz answers 200 (probed every `probeIntervalMs`, as the readiness probe does); one
 * that refuses a connection is taken out at once (as Envoy does on a connect failure) and the connection is
 * tried on the next. An open WebSocket stays on its replica for its whole life, and dies with it.
 *
 * What it does not model: the real probe period (5 s, failure threshold 2 in infra/modules/worker.bicep),
 * TLS, HTTP/2, and the ingress's own idle timeout.
 */
export interface IngressOptions {
  /** Worker base URLs (http://host:port). */
  backends: string[];
  host?: string;
  port?: number;
  /** Default 200 ms. */
  probeIntervalMs?: number;
}

export interface IngressBackendStatus {
  url: string;
  healthy: boolean;
  /** WebSocket connections sent to it so far. */
  upgrades: number;
  /** Open WebSocket connections through it now. */
  open: number;
}

export interface Ingress {
  readonly url: string;
  readonly port: number;
  backends(): IngressBackendStatus[];
  /** The replica each call id's media sockets were sent to, in order (the path's callId). */
  routesOf(callId: string): string[];
  close(): Promise<void>;
}

interface Backend {
  url: string;
  host: string;
  port: number;
  healthy: boolean;
  upgrades: number;
  open: Set<Socket>;
}

export async function startIngress(options: IngressOptions): Promise<Ingress> {
  if (options.backends.length === 0) throw new Error('startIngress: backends must name at least one worker');
  const backends: Backend[] = options.backends.map((url) => {
    const parsed = new URL(url);
    return { url, host: parsed.hostname, port: Number(parsed.port), healthy: false, upgrades: 0, open: new Set() };
  });
  const routes = new Map<string, string[]>();
  let next = 0;
  let closed = false;

  /** The healthy replicas, starting with the next in turn. */
  const candidates = (): Backend[] => {
    const healthy = backends.filter((b) => b.healthy);
    if (healthy.length === 0) return [];
    const start = next++ % healthy.length;
    return [...healthy.slice(start), ...healthy.slice(0, start)];
  };

  const probe = async (backend: Backend): Promise<void> => {
    backend.healthy = await new Promise<boolean>((resolve) => {
      const req = httpRequest({ host: backend.host, port: backend.port, path: '/readyz', method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  };
  const probeAll = () => Promise.all(backends.map(probe));
  await probeAll();
  const prober = setInterval(() => void probeAll(), options.probeIntervalMs ?? 200);
  prober.unref();

  /** A TCP connection to the first replica that takes it; replicas that refuse are marked unhealthy. */
  const connectToReplica = async (): Promise<{ backend: Backend; socket: Socket } | undefined> => {
    for (const backend of candidates()) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = connect({ host: backend.host, port: backend.port });
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket) return { backend, socket };
      backend.healthy = false;
    }
    return undefined;
  };

  const server: Server = createServer((req, res) => void forward(req, res));
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => void upgrade(req, client, head));

  async function upgrade(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const target = await connectToReplica();
    if (!target) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 19\r\n\r\nno healthy replicas');
      return;
    }
    const { backend, socket } = target;
    backend.upgrades++;
    backend.open.add(socket);
    const callId = /^\/ws\/([^/?]+)/.exec(req.url ?? '')?.[1];
    if (callId) routes.set(callId, [...(routes.get(callId) ?? []), backend.url]);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    // Either side closing or failing ends both: a replica that dies takes its WebSockets with it.
    const end = () => {
      backend.open.delete(socket);
      socket.destroy();
      client.destroy();
    };
    socket.on('error', end);
    socket.on('close', end);
    client.on('close', end);
    socket.pipe(client);
    client.pipe(socket);
  }

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const backend of candidates()) {
      const outcome = await new Promise<'done' | 'refused'>((resolve) => {
        const upstream = httpRequest({ host: backend.host, port: backend.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => resolve('done'));
        });
        upstream.on('error', () => resolve(res.headersSent ? 'done' : 'refused'));
        req.pipe(upstream);
      });
      if (outcome === 'done') return;
      backend.healthy = false;
    }
    if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end('no healthy replicas');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  return {
    url,
    port: address.port,
    backends: () => backends.map((b) => ({ url: b.url, healthy: b.healthy, upgrades: b.upgrades, open: b.open.size })),
    routesOf: (callId) => [...(routes.get(callId) ?? [])],
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(prober);
      for (const backend of backends) for (const socket of backend.open) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
