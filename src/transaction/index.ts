export * from './types.js';
export { TimerWheel, TimerHandle, type TimerTarget } from './timer-wheel.js';
export {
  TransactionLayer,
  ServerTransaction,
  ClientTransaction,
  type ClientHandlers,
  type TransactionUser,
  type TransactionLayerOptions,
} from './transaction-layer.js';
export { buildNon2xxAck } from './ack.js';
