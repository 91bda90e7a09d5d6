// The `@boxoffice/seat-lock/holds` entry: holds that always expire, on BullMQ (an optional peer
// dependency, needed only by those who import this entry).
export { HoldNotFoundError } from './errors.js';
export {
  type Decision,
  type ExpireOutcome,
  type Hold,
  type HoldState,
  type PlacedHold,
  type PlaceOptions,
  SeatHolds,
  type SeatHoldsOptions,
} from './seat-holds.js';
