import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import * as functionsLibrary from '@azure/functions';
import type { HttpHandler, HttpMethod, LogLevel } from '@azure/functions';
import { type Logger, silentLogger } from '../shared/log.js';

/** The shape of one entry of `functions/routes.ts`'s table (kept structural so the lab serves any such table). */
export interface HostedRoute {
  name: string;
  route: string;
  methods: HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

export interface FunctionsHostOptions {
  /** The table to serve; may be given later with `setRoutes` (when handlers need the host's own URL). */
  routes?: readonly HostedRoute[];
  /** 7071 like `func start`; 0 for any free port (tests). */
  port?: number;
  host?: string;
  /** The key `authLevel: 'function'` routes require as `?code=` or `x-functions-key`; random when omitted. */
  functionKey?: string;
  /** The key `authLevel: 'admin'` routes require; defaults to the function key. */
  masterKey?: string;
  /** Route prefix, `api` as in host.json's default. */
  routePrefix?: string;
  maxBodyBytes?: number;
  logger?: Logger;
  /**
   * The `@azure/functions` classes requests and contexts are made of (default: the lab's own copy). A built app
   * served from its own folder passes its own copy, as the Functions host hands each app objects of its library.
   */
  runtime?: FunctionsRuntime;
}

export type FunctionsRuntime = Pick<typeof functionsLibrary, 'HttpRequest' | 'HttpResponse' | 'InvocationContext'>;

export interface FunctionsHost {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly functionKey: string;
  /** Serves this table from now on (requests before any table get 503). */
  setRoutes(routes: readonly HostedRoute[]): void;
  /** The URL of a route (first match by name), with `?code=` when the route needs a key. */
  urlOf(name: string, params?: Record<string, string>): string;
  close(): Promise<void>;
}

interface CompiledRoute {
  route: HostedRoute;
  pattern: RegExp;
  names: string[];
}

/** `callbacks/{callId}` → a regex with named segments; `{x?}` is optional, `{x:int}`-style constraints are loosened. */
function compile(route: HostedRoute, prefix: string): CompiledRoute {
  const names: string[] = [];
  const body = route.route
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((segment) => {
      const match = segment.match(/^\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?(\?)?\}$/);
      if (!match) return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      names.push(match[1]!);
      return match[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return { route, names, pattern: new RegExp(`^${prefix ? `/${prefix}` : ''}${body}/?$`, 'i') };
}

const sameKey = (given: string | null | undefined, expected: string) =>
  typeof given === 'string' && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));

/**
 * Serves a Functions route table over plain HTTP the way `func start` does: `/api/<route>`, route
 * parameters, function keys, and real `@azure/functions` `HttpRequest`/`InvocationContext` objects, so the
 * handlers run unchanged.
 */
export async function startFunctionsHost(options: FunctionsHostOptions): Promise<FunctionsHost> {
  const logger = (options.logger ?? silentLogger).child({ component: 'lab.functions-host' });
  const functionKey = options.functionKey ?? randomBytes(24).toString('base64url');
  const masterKey = options.masterKey ?? functionKey;
  const prefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const { HttpRequest, HttpResponse, InvocationContext } = options.runtime ?? functionsLibrary;
  let routes: readonly HostedRoute[] = options.routes ?? [];
  let compiled = routes.map((route) => compile(route, prefix));
  let ready = options.routes !== undefined;

  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'functions host failed a request');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? '/', url);
    const method = (req.method ?? 'GET').toUpperCase();
    if (!ready) return plain(res, 503, 'the Functions host is starting');
    const matches = compiled
      .map((c) => ({ c, m: c.pattern.exec(requestUrl.pathname) }))
      .filter((x): x is { c: CompiledRoute; m: RegExpExecArray } => x.m !== null);
    if (matches.length === 0) return plain(res, 404, `no function serves ${requestUrl.pathname}`);
    const hit = matches.find((x) => x.c.route.methods.map((m) => m.toUpperCase()).includes(method));
    if (!hit) return plain(res, 405, `${method} is not allowed on ${requestUrl.pathname} (allowed: ${matches[0]!.c.route.methods.join(', ')})`, { allow: matches[0]!.c.route.methods.join(', ') });
    const { route } = hit.c;

    if (route.authLevel !== 'anonymous') {
      const given = requestUrl.searchParams.get('code') ?? (req.headers['x-functions-key'] as string | undefined);
      const ok = route.authLevel === 'admin' ? sameKey(given, masterKey) : sameKey(given, functionKey) || sameKey(given, masterKey);
      if (!ok) return plain(res, 401, `function ${route.name} needs a ${route.authLevel} key (?code= or x-functions-key)`);
    }

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBodyBytes) return plain(res, 413, `body larger than ${maxBodyBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    const params: Record<string, string> = {};
    for (const [index, name] of hit.c.names.entries()) {
      const value = hit.m[index + 1];
      if (value === undefined) continue;
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        return plain(res, 400, `route parameter ${name} has a malformed %-escape: ${value}`);
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new HttpRequest({
      method,
      url: requestUrl.toString(),
      headers,
      query: Object.fromEntries(requestUrl.searchParams),
      params,
      ...(chunks.length ? { body: { bytes: Buffer.concat(chunks) } } : {}),
    });
    const invocationId = randomUUID();
    const log = logger.child({ function: route.name, invocationId });
    const context = new InvocationContext({
      invocationId,
      functionName: route.name,
      logHandler: (level: LogLevel, ...args: unknown[]) => {
        const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
        if (level === 'error' || level === 'critical') log.error(text);
        else if (level === 'warning') log.warn(text);
        else log.debug(text);
      },
    });
    const started = performance.now();
    let result: Awaited<ReturnType<HttpHandler>>;
    try {
      result = await route.handler(request, context);
    } catch (error) {
      log.error({ err: error }, 'function threw');
      return plain(res, 500, `function ${route.name} threw: ${(error as Error).message}`);
    }
    const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? {});
    const body = Buffer.from(await response.arrayBuffer());
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => (outHeaders[name] = value));
    res.writeHead(response.status ?? 200, outHeaders);
    res.end(body);
    log.debug({ status: response.status, tookMs: Math.round(performance.now() - started) }, 'executed');
  }

  function plain(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: message }));
  }

  return {
    url,
    functionKey,
    setRoutes(next) {
      routes = next;
      compiled = next.map((route) => compile(route, prefix));
      ready = true;
    },
    urlOf(name, params = {}) {
      const route = routes.find((r) => r.name === name);
      if (!route) throw new Error(`no route named ${name}`);
      const path = route.route.replace(/\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?\??\}/g, (_m, key: string) => encodeURIComponent(params[key] ?? ''));
      const code = route.authLevel === 'anonymous' ? '' : `?code=${encodeURIComponent(route.authLevel === 'admin' ? masterKey : functionKey)}`;
      return `${url}/${prefix ? `${prefix}/` : ''}${path.replace(/^\/+/, '')}${code}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
