import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { maskPhoneNumber } from '../../shared/privacy.js';
import {
  callIdFor,
  isE164,
  isOutboundCallId,
  OUTBOUND_REQUEST_SCHEMA_VERSION,
  placeCallRequestSchema,
  type OutboundCallMessage,
  type OutboundCallStatus,
} from '../../shared/outbound-call.js';
import { callLog, restErrorOf, systemClock, type FunctionsDependencies } from '../context.js';
import { checkOutboundPolicy } from './policy.js';
import { checkCallingHours } from './calling-hours.js';
import { statusCleanupAt } from './cleanup.js';
import { StatusStoreError } from '../../shared/outbound-status-store.js';
import { callerFields, type OutboundAuth } from './api-auth.js';
import type { EntraCaller } from '../../shared/entra-auth.js';
import { unansweredCallRecord } from './unanswered-record.js';

const MAX_BODY_BYTES = 16 * 1024;

/** What the API shows of a status: everything but the queued request (full number, context). */
const withoutRequest = ({ request: _request, ...visible }: OutboundCallStatus) => visible;

const badRequest = (field: string, message: string): HttpResponseInit => ({ status: 400, jsonBody: { error: `${field}: ${message}`, field } });
const notConfigured: HttpResponseInit = { status: 503, jsonBody: { error: 'outbound calling is not configured on this app (no Service Bus for the outbound queues)' } };

/**
 * POST /api/calls (the function key, or an Entra token with the place role when `auth` is given): validates the request (400 naming the field), applies the safety policy,
 * records the call as queued and puts it on the `outbound-calls` queue; 202 with the callId. The same
 * idempotencyKey always names the same callId: a second request finds its status and places nothing.
 */
export function createPlaceCallHandler(deps: FunctionsDependencies, auth?: OutboundAuth): HttpHandler {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const authenticated = auth ? await auth.authenticate(request, context, 'place') : undefined;
    if (authenticated && !authenticated.ok) return authenticated.response;
    const caller = authenticated?.caller;
    const outbound = deps.outbound;
    if (!outbound) return notConfigured;
    const text = await request.text();
    if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) return { status: 413, jsonBody: { error: `body larger than ${MAX_BODY_BYTES} bytes`, field: 'body' } };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return badRequest('body', 'must be a JSON object');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return badRequest('body', 'must be a JSON object');
    const parsed = placeCallRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.') || 'body';
      return badRequest(field, issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message);
    }
    const body = parsed.data;
    const from = body.from ?? config.OUTBOUND_CALLER_NUMBERS[0];
    if (body.from && !config.OUTBOUND_CALLER_NUMBERS.includes(body.from)) return badRequest('from', 'must be one of our numbers (OUTBOUND_CALLER_NUMBERS)');
    if (isE164(body.to) && !from) return badRequest('from', 'a phone number is called from one of our numbers: give from, or set OUTBOUND_CALLER_NUMBERS');
    const now = clock.now();
    if (body.notBefore && Date.parse(body.notBefore) > now.getTime() + 7 * 24 * 3600_000) return badRequest('notBefore', 'must be within 7 days');

    const verdict = checkOutboundPolicy(config, body.to);
    if (!verdict.ok) return { status: verdict.status, jsonBody: { error: verdict.reason, ...(verdict.field ? { field: verdict.field } : {}) } };
    // Outside the calling hours a request is accepted and scheduled for their next opening (checked again when placed).
    const hours = await checkCallingHours(config, body.to, Math.max(now.getTime(), body.notBefore ? Date.parse(body.notBefore) : 0));
    if (hours.kind === 'never') return { status: 403, jsonBody: { error: hours.reason, field: 'to' } };
    const deferral = hours.kind === 'later' ? { deferredUntil: hours.at.toISOString(), deferredBecause: hours.reason } : undefined;
    const notBefore = deferral?.deferredUntil ?? body.notBefore;

    const callId = callIdFor(body.idempotencyKey);
    const log = callLog(deps.logger, context, { callId });
    const message: OutboundCallMessage = {
      schemaVersion: OUTBOUND_REQUEST_SCHEMA_VERSION,
      callId,
      to: body.to,
      ...(from ? { from } : {}),
      ...(body.profile ? { profile: body.profile } : {}),
      ...(body.context ? { context: body.context } : {}),
      attempt: 1,
      requestedAt: now.toISOString(),
      ...(notBefore ? { notBefore } : {}),
      ...(caller ? { requestedBy: callerFields(caller) } : {}),
    };
    let created = false;
    let status: OutboundCallStatus | undefined;
    try {
      status = await outbound.status.update(callId, async (current) => {
        if (current) return undefined;
        await outbound.enqueue(message);
        await outbound.scheduleCleanup({ schemaVersion: 1, cleanup: 'status', session: callId }, statusCleanupAt(config, now.getTime()));
        created = true;
        return {
          callId,
          state: 'queued',
          attempt: 1,
          to: maskPhoneNumber(body.to),
          ...(body.profile ? { profile: body.profile } : {}),
          ...(notBefore ? { notBefore } : {}),
          ...deferral,
          updatedAt: now.toISOString(),
          request: message,
        };
      });
    } catch (error) {
      const rest = restErrorOf(error);
      log.error('outbound request not queued', { code: error instanceof StatusStoreError ? error.code : (rest.code ?? null), error: rest.message });
      return { status: 503, headers: { 'Retry-After': '5' }, jsonBody: { error: 'the request could not be queued; try again (the same idempotencyKey places at most one call)' } };
    }
    log.info(created ? 'outbound call queued' : 'outbound request repeated: same callId, nothing placed', {
      ...(caller ? { requestedBy: callerFields(caller) } : {}),
      to: maskPhoneNumber(body.to),
      ...(body.profile ? { profile: body.profile } : {}),
      ...(notBefore ? { notBefore } : {}),
    });
    return { status: 202, jsonBody: { callId, ...(status ? { status: withoutRequest(status) } : {}), duplicate: !created } };
  };
}

/**
 * What GET and DELETE /api/calls/{callId} check first: the caller (Entra, when on, with `role`), that outbound calling
 * is configured, and that the callId is one we issue. Either the answer to give now, or what the handler works with.
 */
async function openCallRoute(
  deps: FunctionsDependencies,
  auth: OutboundAuth | undefined,
  role: 'read' | 'place',
  request: HttpRequest,
  context: InvocationContext,
): Promise<{ answer: HttpResponseInit } | { callId: string; outbound: NonNullable<FunctionsDependencies['outbound']>; caller: EntraCaller | undefined }> {
  const authenticated = auth ? await auth.authenticate(request, context, role) : undefined;
  if (authenticated && !authenticated.ok) return { answer: authenticated.response };
  const outbound = deps.outbound;
  if (!outbound) return { answer: notConfigured };
  const callId = request.params.callId ?? '';
  if (!isOutboundCallId(callId)) return { answer: badRequest('callId', 'must be a callId that POST /api/calls returned') };
  return { callId, outbound, caller: authenticated?.caller };
}

/** GET /api/calls/{callId} (the function key, or an Entra token with the read or place role): the call's state and outcome. */
export function createCallStatusHandler(deps: FunctionsDependencies, auth?: OutboundAuth): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const opened = await openCallRoute(deps, auth, 'read', request, context);
    if ('answer' in opened) return opened.answer;
    const { callId, outbound } = opened;
    try {
      const status = await outbound.status.get(callId);
      if (!status) return { status: 404, jsonBody: { error: `no outbound call ${callId}` } };
      return { status: 200, jsonBody: withoutRequest(status) };
    } catch (error) {
      const rest = restErrorOf(error);
      callLog(deps.logger, context, { callId }).error('outbound status unavailable', { error: rest.message });
      return { status: 503, headers: { 'Retry-After': '2' }, jsonBody: { error: 'status unavailable; try again' } };
    }
  };
}

/**
 * DELETE /api/calls/{callId} (the function key, or an Entra token with the place role): cancels a call that is still
 * queued (scheduled, deferred, or waiting to retry), so no attempt of it is placed: 200 with the `cancelled` status, and
 * the same again for a call already cancelled. A call ringing or in progress is not hung up, and a finished one stays
 * as it ended: 409 with its state. A call cancelled while waiting to retry has been placed, so its record is written
 * (outcome.kind `not_connected`, the failed attempt's outcome).
 */
export function createCancelCallHandler(deps: FunctionsDependencies, auth?: OutboundAuth): HttpHandler {
  const clock = deps.clock ?? systemClock;
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const opened = await openCallRoute(deps, auth, 'place', request, context);
    if ('answer' in opened) return opened.answer;
    const { callId, outbound, caller } = opened;
    const log = callLog(deps.logger, context, { callId });
    // What the call was when its lock was held, and whether this request cancelled it.
    let seen: { current: OutboundCallStatus | undefined; cancelled?: OutboundCallStatus } = { current: undefined };
    try {
      await outbound.status.update(callId, async (current) => {
        seen = { current };
        if (current?.state !== 'queued') return undefined;
        const now = clock.now();
        const { request: _request, retryAt: _retryAt, deferredUntil: _until, deferredBecause: _because, ...kept } = current;
        const cancelled: OutboundCallStatus = { ...kept, state: 'cancelled', reason: 'cancelled by request (DELETE /api/calls/{callId})', updatedAt: now.toISOString() };
        // Waiting to retry: an attempt was placed and failed (its outcome is on the status); the call gets its record.
        if (current.outcome && current.attempt > 1) {
          await outbound.sendRecord(unansweredCallRecord(deps.config, current, now, { lastAttempt: current.attempt - 1 }));
        }
        seen = { current, cancelled };
        return cancelled;
      });
    } catch (error) {
      const rest = restErrorOf(error);
      log.error('outbound call not cancelled', { code: error instanceof StatusStoreError ? error.code : (rest.code ?? null), error: rest.message });
      return { status: 503, headers: { 'Retry-After': '2' }, jsonBody: { error: 'the call could not be cancelled now; try again' } };
    }
    const { current, cancelled } = seen;
    if (cancelled) {
      log.info('outbound call cancelled', { attempt: cancelled.attempt, ...(caller ? { requestedBy: callerFields(caller) } : {}) });
      return { status: 200, jsonBody: cancelled };
    }
    if (!current) return { status: 404, jsonBody: { error: `no outbound call ${callId}` } };
    if (current.state === 'cancelled') return { status: 200, jsonBody: withoutRequest(current) };
    return { status: 409, jsonBody: { error: `the call is ${current.state}: only a queued call can be cancelled`, status: withoutRequest(current) } };
  };
}
