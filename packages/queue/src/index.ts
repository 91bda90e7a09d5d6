export type {
  AccessProblem,
  AccessProblemBody,
  AccessRequest,
  AccessRequestHeaders,
  RequireAccessOptions,
} from './access-gate.js';
export {
  type AccessClaims,
  type AccessTokenAlgorithm,
  type AccessTokenKey,
  AccessTokens,
  type AccessTokensOptions,
  type IssuedToken,
  type IssueOptions,
  type VerifyOptions,
} from './access-tokens.js';
export {
  AccessTokenError,
  type AccessTokenErrorCode,
  QueueClosedError,
  QueueError,
  QueueRedisError,
  type RedisFailureKind,
  TokenExpiredError,
  TokenForbiddenError,
  TokenInvalidError,
  TokenRevokedError,
} from './errors.js';
export { type AccessMiddleware, type AccessResponse, requireAccess } from './require-access.js';
export {
  type AdmittedEvent,
  type EvictedEvent,
  estimatePosition,
  type PositionEvent,
  type RoomEvent,
  RoomEvents,
  type RoomEventsOptions,
  type TickMessage,
} from './room-events.js';
export type {
  PreQueueOptions,
  ResolvedRoomOptions,
  WaitingRoomOptions,
} from './room-options.js';
export {
  ADMISSION_ORDERS,
  type AdmissionOrder,
  type RoomSettings,
  type RoomSettingsUpdate,
} from './room-settings.js';
export type {
  ActiveStatus,
  JoinResult,
  RoomStats,
  RoomStatus,
  TickResult,
  UnknownStatus,
  WaitingStatus,
  WaitTimes,
} from './room-status.js';
export { WaitingRoom } from './waiting-room.js';

/** The version of @boxoffice/queue this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;
