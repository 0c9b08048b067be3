import { CallAutomationClient, type CallAutomationClientOptions } from '@azure/communication-call-automation';
import type { TokenCredential } from '@azure/core-auth';

/** Where Call Automation is and how we prove who we are. */
export type CallAutomationTarget =
  /** In Azure: the ACS endpoint (https) and a managed identity; a function is called only when the client is built. */
  | { endpoint: string; credential: TokenCredential | (() => TokenCredential) }
  /** Locally: `endpoint=...;accesskey=...` (HMAC-signed requests). */
  | { connectionString: string };

export class CallAutomationClientError extends Error {
  constructor(
    readonly code: 'INSECURE_ENDPOINT' | 'INVALID_ENDPOINT',
    message: string,
  ) {
    super(message);
    this.name = 'CallAutomationClientError';
  }
}

const isLoopback = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

/**
 * The one way to build a `CallAutomationClient` from configuration (the Functions app and the worker's call
 * control). Plain http is allowed only for a loopback endpoint reached with a connection string (the local
 * lab's ACS emulator): core-rest-pipeline refuses http unless told, and it must not be told for anything else.
 * A credential travels as a bearer token, which the SDK sends over https only.
 */
export function createCallAutomationClient(target: CallAutomationTarget, options: CallAutomationClientOptions = {}): CallAutomationClient {
  const endpoint = 'endpoint' in target ? target.endpoint : /(?:^|;)\s*endpoint=([^;]+)/i.exec(target.connectionString)?.[1]?.trim();
  let url: URL;
  try {
    url = new URL(endpoint ?? '');
  } catch {
    throw new CallAutomationClientError('INVALID_ENDPOINT', 'the ACS endpoint is missing or not a URL (expected https://<resource>.communication.azure.com)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CallAutomationClientError('INVALID_ENDPOINT', `the ACS endpoint must be https, not ${url.protocol}`);
  }
  const insecure = url.protocol === 'http:';
  if (insecure && ('endpoint' in target || !isLoopback(url.hostname))) {
    throw new CallAutomationClientError(
      'INSECURE_ENDPOINT',
      'endpoint' in target
        ? `the ACS endpoint must be https to carry a managed-identity token, not http://${url.host}`
        : `plain http is allowed for a loopback endpoint only (the local lab), not http://${url.host}`,
    );
  }
  const clientOptions: CallAutomationClientOptions = { ...options, allowInsecureConnection: insecure };
  if ('endpoint' in target) {
    const credential = typeof target.credential === 'function' ? target.credential() : target.credential;
    return new CallAutomationClient(target.endpoint, credential, clientOptions);
  }
  return new CallAutomationClient(target.connectionString, clientOptions);
}
