// A live's events held in seq order, without duplicates, knowing which seqs are still missing.
// The live view adds what Socket.IO delivers and what the REST events API returns into one FeedStore;
// `contiguous` is how far the feed is complete, so a reconnect asks the API for everything after it.
import type { EventRead } from "../api/client";

export interface FeedTotals {
  gifts: number;
  diamonds: number;
  likes: number | null;
  viewers: number | null;
  byKind: Record<string, number>;
}

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
  readonly events: EventRead[] = [];
  readonly totals: FeedTotals = emptyTotals();
  /** Every seq from 0 to this one is here (-1: not even seq 0). */
  contiguous = -1;
  private readonly seqs = new Set<number>();

  get maxSeq(): number {
    return this.events.length ? this.events[this.events.length - 1].seq : -1;
  }

  /** Adds the events not already held; returns how many were new. */
  add(batch: readonly EventRead[]): number {
    let added = 0;
    for (const event of batch) {
      if (this.seqs.has(event.seq)) continue;
      this.seqs.add(event.seq);
      this.insert(event);
      this.count(event);
      added += 1;
    }
    while (this.seqs.has(this.contiguous + 1)) this.contiguous += 1;
    return added;
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
