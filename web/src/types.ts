// The API's objects as the console reads them: the server's own types,
// imported (type only, nothing of the server is bundled), never copied.
// src/api/shapes.ts holds the objects' schemas; /api/v1/openapi.json is
// made from the same schemas.
import type { EventType } from '../../src/core/events';

export type {
  BanJson as Ban,
  BindingJson as Binding,
  CallBucket,
  CallJson as LiveCall,
  CdrJson as Cdr,
  TraceMessage,
  UnknownSourceJson as UnknownSource,
} from '../../src/api/shapes';
export type { EventType } from '../../src/core/events';
export type { QualityEntityJson as QualityEntity, QualityJson as Quality } from '../../src/api/quality-routes';
export type { ClusterNodeJson as ClusterNode, ClusterStatusJson as ClusterStatus } from '../../src/cluster/status';
export type { RefusedCallCause } from '../../src/b2bua/refusal-cause';

/** An event of /api/v1/events as the stream delivers it (SSE: the id is text, the data parsed JSON). */
export interface BusEvent {
  id: string;
  type: EventType;
  data: Record<string, unknown>;
}
