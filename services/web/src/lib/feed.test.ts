import { describe, expect, it } from "vitest";
import type { EventRead } from "../api/client";
import { diamondsOf, eventsOf, FeedStore, matches, newestFirst, viewerSeries } from "./feed";

function event(seq: number, kind = "chat", extra: Partial<EventRead> = {}): EventRead {
  return {
    session_id: "s", seq, kind, msg_id: null, method: null, room_id: null, user_id: `${seq}`, unique_id: `user${seq}`,
    nickname: `User ${seq}`, body: "hi", gift_id: null, gift_name: null, diamond_count: null, repeat_count: null,
    inferred: false, counts: null, data: {}, server_time: null, captured_at: `2026-01-01T00:00:${String(seq % 60).padStart(2, "0")}Z`,
    raw_sha256: null, chain_hash: "h", ...extra,
  };
}

describe("FeedStore", () => {
  it("keeps seq order without duplicates and knows how far it is complete", () => {
    const store = new FeedStore();
    expect(store.add([event(0), event(1), event(4), event(5)])).toBe(4);
    expect(store.contiguous).toBe(1);
    expect(store.hasHole()).toBe(true);
    // The REST catch-up returns the hole and some of what Socket.IO already delivered.
    expect(store.add([event(2), event(3), event(4)])).toBe(2);
    expect(store.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(store.contiguous).toBe(5);
    expect(store.hasHole()).toBe(false);
  });

  it("adds gift streaks and diamonds once, whichever path delivered them", () => {
    const store = new FeedStore();
    const gift = event(1, "gift", { repeat_count: 5, diamond_count: 10 });
    store.add([event(0), gift]);
    store.add([gift]);
    expect(store.totals.gifts).toBe(5);
    expect(store.totals.diamonds).toBe(50);
    expect(store.totals.byKind).toEqual({ chat: 1, gift: 1 });
  });

  it("keeps TikTok's latest viewer and like totals", () => {
    const store = new FeedStore();
    store.add([event(0, "viewers", { counts: { viewer_count: 10 } }), event(1, "like", { counts: { count: 3, total: 30 } })]);
    store.add([event(2, "viewers", { counts: { viewer_count: 12 } })]);
    expect(store.totals.viewers).toBe(12);
    expect(store.totals.likes).toBe(30);
  });
});

describe("the bounded ring", () => {
  it("holds only the newest events but counts, totals and dedups every one received", () => {
    const store = new FeedStore(100);
    for (let seq = 0; seq < 1000; seq += 10) {
      store.add(Array.from({ length: 10 }, (_, i) => event(seq + i, "gift", { repeat_count: 1, diamond_count: 2 })));
    }
    expect(store.events.length).toBeLessThanOrEqual(125);
    expect(store.events[store.events.length - 1].seq).toBe(999);
    expect(store.received).toBe(1000);
    expect(store.totals.diamonds).toBe(2000);
    // Seqs the ring dropped long ago are still known: a late REST page adds nothing twice.
    expect(store.add([event(3), event(998)])).toBe(0);
    expect(store.received).toBe(1000);
    expect(store.contiguous).toBe(999);
  });

  it("remembers only the seqs above the complete part, so a long live stays small", () => {
    const store = new FeedStore(10);
    store.add([event(0), event(2)]);
    expect(store.has(1)).toBe(false);
    expect(store.has(2)).toBe(true);
    store.add([event(1)]);
    expect(store.contiguous).toBe(2);
    expect(store.hasHole()).toBe(false);
  });
});

describe("socket payloads and drawn rows", () => {
  it("accepts one event or an array of events per message", () => {
    expect(eventsOf(event(1)).map((e) => e.seq)).toEqual([1]);
    expect(eventsOf([event(1), event(2)]).map((e) => e.seq)).toEqual([1, 2]);
    expect(eventsOf(null)).toEqual([]);
  });

  it("draws newest first, filtered only when a filter is set", () => {
    const events = [event(0), event(1, "gift"), event(2)];
    expect(newestFirst(events, { kinds: [], user: " " }).map((e) => e.seq)).toEqual([2, 1, 0]);
    expect(newestFirst(events, { kinds: ["gift"], user: "" }).map((e) => e.seq)).toEqual([1]);
  });
});

describe("filters and series", () => {
  it("filters by type and by part of the handle, nickname or id", () => {
    const chat = event(7, "chat", { unique_id: "alice_k", nickname: "Alice" });
    expect(matches(chat, { kinds: [], user: "" })).toBe(true);
    expect(matches(chat, { kinds: ["gift"], user: "" })).toBe(false);
    expect(matches(chat, { kinds: ["chat"], user: "@ALI" })).toBe(true);
    expect(matches(chat, { kinds: [], user: "bob" })).toBe(false);
  });

  it("counts only gifts as diamonds", () => {
    expect(diamondsOf({ kind: "gift", diamond_count: 1, repeat_count: 99 })).toBe(99);
    expect(diamondsOf({ kind: "gift_update", diamond_count: 1, repeat_count: 99 })).toBe(0);
  });

  it("draws viewer counts from viewer events only", () => {
    const [times, counts] = viewerSeries([event(0), event(1, "viewers", { counts: { viewer_count: 3 } })]);
    expect(counts).toEqual([3]);
    expect(times).toHaveLength(1);
  });
});
