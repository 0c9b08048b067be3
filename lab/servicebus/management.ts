import type { Message } from 'rhea';
import { Condition, deliveredMessage, encodeMessage, lockTokenFromWire, longToNumber } from './amqp.js';
import type { LockHolder, QueueEntity } from './queue.js';

export interface ManagementResponse {
  application_properties: Record<string, unknown>;
  body?: unknown;
}

function ok(body?: unknown, statusCode = 200): ManagementResponse {
  return { application_properties: { statusCode, statusDescription: statusCode === 204 ? 'No Content' : 'OK' }, body };
}

function fail(statusCode: number, condition: string, description: string): ManagementResponse {
  return { application_properties: { statusCode, statusDescription: description, 'error-condition': condition } };
}

const statusOf: Record<string, number> = {
  [Condition.sessionLockLost]: 410,
  [Condition.messageLockLost]: 410,
  [Condition.notAllowed]: 400,
};

function bodyMap(request: Message): Record<string, unknown> {
  const body = request.body as unknown;
  return body !== null && typeof body === 'object' && !Buffer.isBuffer(body) ? (body as Record<string, unknown>) : {};
}

function sessionStateBytes(value: unknown): Buffer | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Answers one request sent to `<queue>/$management`. Every request gets an answer: operations the peer
 * does not model get 501 `amqp:not-implemented` (silence would cost the client a 60 s timeout).
 */
export function answerManagementRequest(
  queue: QueueEntity,
  request: Message,
  holderOfLink: (linkName: string) => LockHolder | undefined,
): ManagementResponse {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  const operation = String(props.operation ?? '');
  const body = bodyMap(request);
  const linkName = typeof props['associated-link-name'] === 'string' ? props['associated-link-name'] : undefined;
  const holder = linkName ? holderOfLink(linkName) : undefined;
  const sessionId = typeof body['session-id'] === 'string' ? body['session-id'] : undefined;

  const requireSessionLock = (): ManagementResponse | undefined => {
    if (sessionId === undefined) return fail(400, Condition.notAllowed, 'session-id is required');
    if (queue.sessionLockedUntil(sessionId) === undefined) {
      return fail(410, Condition.sessionLockLost, `The session lock has expired on the session with id ${sessionId}.`);
    }
    return undefined;
  };

  switch (operation) {
    case 'com.microsoft:renew-session-lock': {
      if (sessionId === undefined) return fail(400, Condition.notAllowed, 'session-id is required');
      const result = queue.renewSessionLock(sessionId, holder);
      if (!result.ok) return fail(statusOf[result.condition] ?? 400, result.condition, result.description);
      return ok({ expiration: new Date(result.lockedUntilMs) });
    }
    case 'com.microsoft:get-session-state': {
      const refusal = requireSessionLock();
      if (refusal) return refusal;
      return ok({ 'session-state': queue.getSessionState(sessionId!) });
    }
    case 'com.microsoft:set-session-state': {
      const refusal = requireSessionLock();
      if (refusal) return refusal;
      queue.setSessionState(sessionId!, sessionStateBytes(body['session-state']));
      return ok();
    }
    case 'com.microsoft:renew-lock': {
      const tokens = Array.isArray(body['lock-tokens']) ? (body['lock-tokens'] as unknown[]) : [];
      const expirations: Date[] = [];
      for (const raw of tokens) {
        const token = lockTokenFromWire(raw);
        const result = token ? queue.renewMessageLock(token) : undefined;
        if (!result?.ok) {
          return fail(410, Condition.messageLockLost, result?.description ?? 'The lock supplied is invalid.');
        }
        expirations.push(new Date(result.lockedUntilMs));
      }
      return ok({ expirations });
    }
    case 'com.microsoft:update-disposition': {
      const tokens = Array.isArray(body['lock-tokens']) ? (body['lock-tokens'] as unknown[]) : [];
      const status = body['disposition-status'];
      const outcome =
        status === 'completed'
          ? ({ kind: 'complete' } as const)
          : status === 'abandoned'
            ? ({ kind: 'abandon' } as const)
            : status === 'suspended'
              ? ({
                  kind: 'deadLetter',
                  reason: typeof body['deadletter-reason'] === 'string' ? body['deadletter-reason'] : undefined,
                  description: typeof body['deadletter-description'] === 'string' ? body['deadletter-description'] : undefined,
                } as const)
              : undefined;
      if (!outcome) return fail(501, Condition.notImplemented, `disposition '${String(status)}' is not implemented by the test peer`);
      for (const raw of tokens) {
        const token = lockTokenFromWire(raw);
        const result = token ? queue.settle(token, undefined, outcome) : undefined;
        if (!result?.ok) return fail(410, Condition.messageLockLost, 'The lock supplied is invalid.');
      }
      return ok();
    }
    case 'com.microsoft:peek-message': {
      const from = longToNumber(body['from-sequence-number']) ?? 1;
      const count = typeof body['message-count'] === 'number' ? body['message-count'] : 1;
      const found = queue.peek(from, count, sessionId);
      if (found.length === 0) return ok(undefined, 204);
      return ok({
        messages: found.map((m) => ({
          message: encodeMessage(
            deliveredMessage(m.amqp, { sequenceNumber: m.sequenceNumber, enqueuedAt: m.enqueuedAt, deliveryCount: m.deliveryCount }),
          ),
        })),
      });
    }
    default:
      return fail(501, Condition.notImplemented, `The operation '${operation}' is not implemented by the Service Bus test peer.`);
  }
}
