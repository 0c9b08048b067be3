import type { CallAutomationClient, StartRecordingOptions } from '@azure/communication-call-automation';
import { callRecordingFormat, type FunctionsConfig } from '../shared/config/functions.js';
import { maskPhoneNumbersIn } from '../shared/privacy.js';
import { restErrorOf } from './context.js';
import { callbackUrlFor } from './incoming-call.js';

/**
 * Call recording (CALL_RECORDING=audio): started once the call is connected. A recording that fails to start
 * is reported, never a reason to fail the callback or the call.
 */

/** How long the start request may take, SDK retries included: the CallConnected callback waits for it. */
export const RECORDING_START_TIMEOUT_MS = 10_000;

export type RecordingConfig = Pick<
  FunctionsConfig,
  'CALLBACK_BASE_URL' | 'CALL_RECORDING_CHANNEL' | 'CALL_RECORDING_FORMAT' | 'CALL_RECORDING_STORAGE_URL'
>;

/** What we ask ACS for: audio of this call connection, state changes posted to the call's callback URL. */
export function startRecordingOptionsFor(config: RecordingConfig, callId: string, callConnectionId: string): StartRecordingOptions {
  return {
    callConnectionId,
    recordingContent: 'audio',
    recordingChannel: config.CALL_RECORDING_CHANNEL,
    recordingFormat: callRecordingFormat(config),
    ...(config.CALL_RECORDING_STORAGE_URL
      ? { recordingStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl: config.CALL_RECORDING_STORAGE_URL } }
      : {}),
    recordingStateCallbackEndpointUrl: callbackUrlFor(config, callId),
  };
}

export type RecordingStartResult =
  | { kind: 'started'; recordingId: string; recordingState?: string | undefined }
  /** ACS answered 409: this call is recording already (an earlier delivery, or another instance, started it). */
  | { kind: 'alreadyRecording'; code?: string | undefined }
  | { kind: 'failed'; error: { status?: number | undefined; code?: string | undefined; message: string } };

export async function startCallRecording(
  client: CallAutomationClient,
  options: StartRecordingOptions,
  timeoutMs = RECORDING_START_TIMEOUT_MS,
): Promise<RecordingStartResult> {
  try {
    const result = await client.getCallRecording().start({ ...options, abortSignal: AbortSignal.timeout(timeoutMs) });
    if (!result.recordingId) return { kind: 'failed', error: { message: 'ACS accepted the recording but returned no recordingId' } };
    return { kind: 'started', recordingId: result.recordingId, recordingState: result.recordingState };
  } catch (error) {
    const rest = restErrorOf(error);
    if (rest.status === 409) return { kind: 'alreadyRecording', code: rest.code };
    return {
      kind: 'failed',
      error: { ...(rest.status !== undefined ? { status: rest.status } : {}), ...(rest.code ? { code: rest.code } : {}), message: maskPhoneNumbersIn(rest.message).slice(0, 500) },
    };
  }
}
