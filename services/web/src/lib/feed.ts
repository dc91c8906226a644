// A live's events held in seq order, without duplicates, knowing which seqs are still missing.
// The live view adds what Socket.IO delivers and what the REST events API returns into one FeedStore;
// `contiguous` is how far the feed is complete, so a reconnect asks the API for everything after it.
// The store is a bounded ring (the newest FEED_CAPACITY events): at 1,000 events/s an hour of live
// would otherwise be 3.6 million rows in the tab; totals and the received count still cover everything.
import type { EventRead } from "../api/client";

export interface FeedTotals {
  gifts: number;
  diamonds: number;
  likes: number | null;
  viewers: number | null;
  byKind: Record<string, number>;
}

/** How many events the live view holds for drawing; totals and counts cover every event received. */
export const FEED_CAPACITY = 10_000;

function emptyTotals(): FeedTotals {
  return { gifts: 0, diamonds: 0, likes: null, viewers: null, byKind: {} };
}

/** Diamonds a gift event is worth: the gift's unit value times its streak count. */
export function diamondsOf(event: Pick<EventRead, "kind" | "diamond_count" | "repeat_count">): number {
  if (event.kind !== "gift") return 0;
  return (event.diamond_count ?? 0) * (event.repeat_count ?? 1);
}

function numberIn(counts: EventRead["counts"], key: string): number | null {
  const value = counts?.[key];
  return typeof value === "number" ? value : null;
}

export class FeedStore {
  /** The newest events held, in seq order: at most `capacity` (older ones stay in the evidence browser). */
  readonly events: EventRead[] = [];
  readonly totals: FeedTotals = emptyTotals();
  /** Every seq from 0 to this one was received (-1: not even seq 0). */
  contiguous = -1;
  /** Highest seq received. */
  maxSeq = -1;
  /** Distinct events received, including those the ring no longer holds. */
  received = 0;
  // Seqs received above `contiguous`: small while the feed is whole, so memory stays bounded.
  private readonly above = new Set<number>();

  constructor(readonly capacity = FEED_CAPACITY) {}

  /** Adds the events not already received; returns how many were new. */
  add(batch: readonly EventRead[]): number {
    let added = 0;
    for (const event of batch) {
      if (this.has(event.seq)) continue;
      this.above.add(event.seq);
      this.insert(event);
      if (event.seq > this.maxSeq) this.maxSeq = event.seq;
      this.count(event);
      added += 1;
    }
    while (this.above.delete(this.contiguous + 1)) this.contiguous += 1;
    this.received += added;
    // Trim in bulk (not one shift per event) once the ring is a quarter over its capacity.
    if (this.events.length > this.capacity + (this.capacity >> 2)) this.events.splice(0, this.events.length - this.capacity);
    return added;
  }

  /** Whether this seq was received already. */
  has(seq: number): boolean {
    return seq <= this.contiguous || this.above.has(seq);
  }

  /** True when some seq below the highest one held is missing. */
  hasHole(): boolean {
    return this.contiguous < this.maxSeq;
  }

  private insert(event: EventRead): void {
    const events = this.events;
    if (!events.length || events[events.length - 1].seq < event.seq) {
      events.push(event);
      return;
    }
    let low = 0;
    let high = events.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (events[middle].seq < event.seq) low = middle + 1;
      else high = middle;
    }
    events.splice(low, 0, event);
  }

  private count(event: EventRead): void {
    const totals = this.totals;
    totals.byKind[event.kind] = (totals.byKind[event.kind] ?? 0) + 1;
    if (event.kind === "gift") {
      totals.gifts += event.repeat_count ?? 1;
      totals.diamonds += diamondsOf(event);
    }
    // TikTok's own running totals: the latest in seq order wins.
    if (event.seq === this.maxSeq) {
      if (event.kind === "like") totals.likes = numberIn(event.counts, "total") ?? totals.likes;
      if (event.kind === "viewers") totals.viewers = numberIn(event.counts, "viewer_count") ?? totals.viewers;
    }
  }
}

export interface FeedFilter {
  kinds: string[];
  user: string;
}

/** Whether an event passes the type and user filters (user: part of the @handle, nickname or id). */
export function matches(event: EventRead, filter: FeedFilter): boolean {
  if (filter.kinds.length && !filter.kinds.includes(event.kind)) return false;
  const needle = filter.user.trim().replace(/^@/, "").toLowerCase();
  if (!needle) return true;
  return [event.unique_id, event.nickname, event.user_id].some((value) => value?.toLowerCase().includes(needle));
}

/** Viewer counts over time, as the chart wants them: seconds since the epoch and counts. */
export function viewerSeries(events: readonly EventRead[]): [number[], number[]] {
  const times: number[] = [];
  const counts: number[] = [];
  for (const event of events) {
    if (event.kind !== "viewers") continue;
    const count = numberIn(event.counts, "viewer_count");
    if (count === null) continue;
    times.push(Date.parse(event.captured_at) / 1000);
    counts.push(count);
  }
  return [times, counts];
}

/** What Socket.IO delivers: one event, or (when the server batches a commit) an array of them. */
export function eventsOf(payload: EventRead | readonly EventRead[] | null | undefined): readonly EventRead[] {
  if (!payload) return [];
  return Array.isArray(payload) ? payload : [payload as EventRead];
}

/** The rows to draw, newest first: one pass over the ring, filtered only when a filter is set. */
export function newestFirst(events: readonly EventRead[], filter: FeedFilter): EventRead[] {
  const filtering = filter.kinds.length > 0 || filter.user.trim() !== "";
  const rows: EventRead[] = [];
  for (let index = events.length - 1; index >= 0; index -= 1) {
    const event = events[index];
    if (!filtering || matches(event, filter)) rows.push(event);
  }
  return rows;
}
