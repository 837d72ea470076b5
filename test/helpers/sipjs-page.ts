/**
 * The browser side of the WebRTC call tests: a page that registers with
 * SIP.js over WSS and places or answers one call, exposing each step to the
 * test (window.register, window.call, window.answerNext, window.hangUp,
 * window.remoteStream). ICE uses host candidates only (no STUN server) and
 * a short gathering timeout.
 */
export const SIPJS_PAGE = `<!doctype html><title>trunkline webrtc</title><script type="module">
import { UserAgent, Registerer, RegistererState, Inviter, SessionState } from '/sip.js/index.js';
import { measure } from '/probe.js';
window.measure = measure;
const sdh = { iceGatheringTimeout: 500, peerConnectionConfiguration: { iceServers: [] } };
const media = { constraints: { audio: true, video: false } };
let ua, session, incoming = [];
window.register = async (o) => {
  ua = new UserAgent({
    uri: UserAgent.makeURI(o.uri),
    transportOptions: { server: o.server },
    authorizationUsername: o.user,
    authorizationPassword: o.password,
    sessionDescriptionHandlerFactoryOptions: sdh,
    logBuiltinEnabled: false,
    delegate: { onInvite: (inv) => incoming.push(inv) },
  });
  await ua.start();
  const reg = new Registerer(ua);
  const done = new Promise((r, f) => {
    reg.stateChange.addListener((s) => { if (s === RegistererState.Registered) r(); });
    setTimeout(() => f(new Error('not registered')), 5000);
  });
  await reg.register({ requestDelegate: { onReject: (res) => console.error('REGISTER refused ' + res.message.statusCode) } });
  await done;
};
// Up once its media is: the peer connection connected (ICE and DTLS done), 8 s at most.
const mediaUp = async (s) => {
  const pc = s.sessionDescriptionHandler.peerConnection;
  const t0 = performance.now();
  while (pc.connectionState !== 'connected' && performance.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 20));
  console.log('media ' + pc.connectionState + ' after ' + Math.round(performance.now() - t0) + ' ms');
  if (pc.connectionState !== 'connected') throw new Error('media not connected: ' + pc.connectionState + '/' + pc.iceConnectionState);
};
const established = (s) => new Promise((r, f) => {
  s.stateChange.addListener((st) => {
    if (st === SessionState.Established) r();
    if (st === SessionState.Terminated) f(new Error('call ended before it was established'));
  });
});
// Keeps only Opus in a local offer (the engine must then transcode for a G.711 carrier).
const opusOnly = (d) => {
  const lines = d.sdp.split('\\r\\n');
  const pt = /^a=rtpmap:(\\d+) opus\\//im.exec(d.sdp)[1];
  const kept = lines
    .map((l) => (l.startsWith('m=audio') ? l.replace(/^(m=audio \\S+ \\S+) .*$/, '$1 ' + pt) : l))
    .filter((l) => { const x = /^a=(rtpmap|fmtp|rtcp-fb):(\\d+)/.exec(l); return x === null || x[2] === pt; });
  return Promise.resolve({ type: d.type, sdp: kept.join('\\r\\n') });
};
window.call = async (target, fromUri, onlyOpus) => {
  session = new Inviter(ua, UserAgent.makeURI(target), {
    params: { fromUri },
    sessionDescriptionHandlerOptions: media,
    sessionDescriptionHandlerModifiers: onlyOpus ? [opusOnly] : [],
  });
  let status = 0, warning = '';
  const up = established(session);
  await session.invite({ requestDelegate: { onReject: (res) => { status = res.message.statusCode; warning = res.message.getHeader('warning') ?? ''; } } });
  try { await up; } catch (e) { return { ok: false, status, warning }; }
  await mediaUp(session);
  return { ok: true };
};
window.answerNext = async (ms) => {
  const end = Date.now() + ms;
  while (incoming.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (incoming.length === 0) throw new Error('no INVITE reached the page');
  session = incoming.shift();
  const up = established(session);
  await session.accept({ sessionDescriptionHandlerOptions: media });
  await up;
  await mediaUp(session);
};
window.remoteStream = () => {
  const pc = session.sessionDescriptionHandler.peerConnection;
  return new MediaStream(pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'audio'));
};
window.hangUp = async () => { await session.bye(); };
window.ready = true;
</script>`;
