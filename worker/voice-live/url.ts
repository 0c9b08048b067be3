/** What a Voice Live session talks to: a model, or a Foundry agent. */
export type VoiceLiveTarget =
  | { kind: 'model'; model: string }
  | { kind: 'agent'; agentName: string; projectName: string; agentVersion?: string; conversationId?: string }
  /** The classic ("v1") agent form; it needs an agent access token in the query, so prefer `agent`. */
  | { kind: 'agent-classic'; agentId: string; projectName: string };

export const VOICE_LIVE_PATH = '/voice-live/realtime';

export interface BuildVoiceLiveUrlOptions {
  endpoint: string;
  apiVersion: string;
  target: VoiceLiveTarget;
  /** Only for `agent-classic`: the Entra token the service expects in `agent-access-token`. */
  agentAccessToken?: string;
}

/**
 * The realtime WebSocket URL. http(s) endpoints become ws(s); any path or query on the endpoint is
 * replaced, as the Azure SDKs do. Credentials never go here (they travel as headers).
 */
export function buildVoiceLiveUrl(options: BuildVoiceLiveUrlOptions): URL {
  const url = new URL(options.endpoint);
  switch (url.protocol) {
    case 'https:':
    case 'wss:':
      url.protocol = 'wss:';
      break;
    case 'http:':
    case 'ws:':
      url.protocol = 'ws:';
      break;
    default:
      throw new TypeError(`endpoint must be an http(s) or ws(s) URL, got protocol ${url.protocol}`);
  }
  url.pathname = VOICE_LIVE_PATH;
  url.search = '';
  url.hash = '';
  url.username = '';
  url.password = '';
  const query = url.searchParams;
  query.set('api-version', options.apiVersion);
  const target = options.target;
  switch (target.kind) {
    case 'model':
      query.set('model', target.model);
      break;
    case 'agent':
      query.set('agent-name', target.agentName);
      query.set('agent-project-name', target.projectName);
      if (target.agentVersion) query.set('agent-version', target.agentVersion);
      if (target.conversationId) query.set('conversation-id', target.conversationId);
      break;
    case 'agent-classic':
      query.set('agent-id', target.agentId);
      query.set('agent-project-name', target.projectName);
      if (options.agentAccessToken) query.set('agent-access-token', options.agentAccessToken);
      break;
  }
  return url;
}

/** The URL with secret-bearing query values masked, for log lines. */
export function redactVoiceLiveUrl(url: URL): string {
  const copy = new URL(url.href);
  for (const key of ['agent-access-token', 'api-key', 'authorization', 'Authorization']) {
    if (copy.searchParams.has(key)) copy.searchParams.set(key, 'redacted');
  }
  return copy.href;
}
