// The API's objects as the console reads them (the README's API section and
// /api/v1/openapi.json are the reference).
export interface LiveCall {
  callSid: string;
  direction: string;
  account: string | null;
  trunk: string | null;
  carrier: string | null;
  from: string;
  to: string;
  state: string;
  startAt: string;
  answerAt: string | null;
  seconds: number;
}

export interface Cdr {
  callSid: string;
  account: string | null;
  trunk: string | null;
  carrier: string | null;
  direction: string;
  from: string;
  to: string;
  startAt: string;
  answerAt: string | null;
  endAt: string;
  duration: number;
  status: number;
  reason: string;
  hangupBy: string;
}

export interface Ban {
  ip: string;
  reason?: string;
  source: string;
  expiresAt: string | null;
  createdAt: string;
}

export interface Binding {
  aor: string;
  contact: string;
  received: string | null;
  expires: number;
  userAgent: string | null;
}

export interface TraceMessage {
  time: string;
  direction: 'in' | 'out';
  leg: 'a' | 'b';
  callId: string;
  proto: string;
  src: string;
  dst: string;
  firstLine: string;
  raw: string;
}

export interface CallBucket {
  start: string;
  started: number;
  answered: number;
  failed: number;
}

export interface BusEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}
