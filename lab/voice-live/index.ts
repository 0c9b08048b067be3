export { startVoiceLivePeer, type VoiceLivePeer, type VoiceLivePeerOptions, type PeerSession, type ClientEventRecord, type RespondOptions, type EchoGreeting } from './peer.js';
export { beeps, tone, resampleLinear, rms, int16ToBuffer, bufferToInt16 } from './audio.js';
