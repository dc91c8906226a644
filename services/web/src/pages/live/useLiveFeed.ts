// One live's feed: Socket.IO for what happens now, the REST events API for everything before and for
// every hole a dropped connection leaves, merged by seq in a FeedStore.
// At 1,000 events/s nothing is done per event but a push onto a queue: once per animation frame the
// queue is merged into the store and the feed list redraws (one React update per frame, none per event);
// the figures and the chart redraw a few times a second, the page around them only when its own state
// changes (decision 520).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { analyser, type EventRead } from "../../api/client";
import { unwrap } from "../../api/errors";
import { eventsOf, FeedStore } from "../../lib/feed";
import { ThrottledTicker, Ticker } from "../../lib/ticker";

export type Connection = "connecting" | "connected" | "disconnected";

const PAGE = 1000;
// When the socket has been quiet this long, ask the API whether more was stored (a lagging or
// stalled fan-out must not leave the feed silently behind the evidence).
const QUIET_MS = 2000;
// The figures (counts, totals, the "held back while paused" note) redraw this often, the chart less.
const FIGURES_REDRAW_MS = 250;
const CHART_REDRAW_MS = 1000;
const MERGE_AT_MOST = 5000;

declare global {
  interface Window {
    /** The live view's socket, so the browser tests can drop the connection as a network would. */
    scisLiveSocket?: Socket;
  }
}

async function readAfter(sessionId: string, afterSeq: number): Promise<{ items: EventRead[]; next: number | null }> {
  const page = await unwrap(
    analyser.GET("/api/analyser/sessions/{session_id}/events", {
      params: { path: { session_id: sessionId }, query: { after_seq: afterSeq, limit: PAGE } },
    }),
  );
  return { items: page.items, next: page.next_after_seq ?? null };
}

export interface LiveFeed {
  store: FeedStore;
  /** Bumped once per animation frame while events flow, never while paused: the feed list. */
  frames: Ticker;
  /** Bumped at most every FIGURES_REDRAW_MS, paused or not: the counts and totals. */
  figures: ThrottledTicker;
  /** Bumped at most every CHART_REDRAW_MS: the viewer chart. */
  chart: ThrottledTicker;
  /** How many events the feed showed at its last redraw (frozen while paused). */
  held: () => number;
  /** Sets what `held` answers (at each feed redraw). */
  hold: (count: number) => void;
}

function newFeed(): LiveFeed {
  let held = 0;
  return {
    store: new FeedStore(),
    frames: new Ticker(),
    figures: new ThrottledTicker(FIGURES_REDRAW_MS),
    chart: new ThrottledTicker(CHART_REDRAW_MS),
    held: () => held,
    hold: (count) => {
      held = count;
    },
  };
}

export function useLiveFeed(sessionId: string, paused: boolean): { feed: LiveFeed; connection: Connection; error: unknown } {
  // One store and its tickers per session, made at render time so the children get the ones the effect
  // fills; the same object across the page's renders, so the memoised parts of the page skip them.
  const feed = useMemo(newFeed, [sessionId]); // eslint-disable-line react-hooks/exhaustive-deps
  const [connection, setConnection] = useState<Connection>("connecting");
  const [error, setError] = useState<unknown>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const { store, frames, figures, chart } = feed;
    let frame = 0;
    let closed = false;
    let catchingUp: Promise<void> | null = null;
    let again = false;

    let pending: EventRead[] = [];

    // Merges what arrived into the store and reads the API when it shows a new hole.
    const merge = () => {
      if (!pending.length) return;
      const arrived = pending;
      pending = [];
      const wasComplete = store.contiguous === store.maxSeq;
      store.add(arrived);
      if (wasComplete && store.hasHole()) void catchUp();
    };
    // Once per animation frame: merge, then redraw the feed (not while paused); the rest less often.
    const onFrame = () => {
      frame = 0;
      merge();
      if (!pausedRef.current) {
        feed.hold(store.received);
        frames.bump();
      }
      figures.poke();
      chart.poke();
    };
    const redraw = () => {
      if (!frame) frame = requestAnimationFrame(onFrame);
    };

    // Reads the API from the end of the complete part until it has nothing more; one reader at a time.
    const catchUp = (): Promise<void> => {
      if (catchingUp) {
        again = true;
        return catchingUp;
      }
      catchingUp = (async () => {
        try {
          do {
            again = false;
            let after: number | null = store.contiguous;
            while (after !== null && !closed) {
              const page = await readAfter(sessionId, after);
              store.add(page.items);
              redraw();
              after = page.items.length ? page.next : null;
            }
          } while (again && !closed);
          setError(null);
        } catch (failure) {
          setError(failure);
        } finally {
          catchingUp = null;
        }
      })();
      return catchingUp;
    };

    const socket = io({ path: "/socket.io/", transports: ["websocket"] });
    window.scisLiveSocket = socket;
    // A capture waiting for its target has no session yet: the join is refused until it goes live,
    // so a refused join is asked again at each quiet check.
    let joined = false;
    const join = async () => {
      const answer: { ok?: boolean } | undefined = await socket.emitWithAck("join", { session_id: sessionId });
      joined = !!answer?.ok;
    };
    socket.on("connect", async () => {
      setConnection("connected");
      // Join first, then read the API: whatever is published after the join arrives here, and
      // everything before it is in the store already.
      await join();
      await catchUp();
    });
    socket.on("disconnect", () => {
      joined = false;
      setConnection("disconnected");
    });
    socket.on("connect_error", () => setConnection("disconnected"));
    let lastSocketEvent = Date.now();
    const quietCheck = window.setInterval(() => {
      if (socket.connected && !joined) void join();
      if (Date.now() - lastSocketEvent >= QUIET_MS) void catchUp();
    }, QUIET_MS);
    // One message per commit: the array of one live's events in seq order (a lone event is accepted too).
    socket.on("events", (payload: EventRead | EventRead[]) => {
      lastSocketEvent = Date.now();
      for (const event of eventsOf(payload)) pending.push(event);
      // A hidden tab gets no animation frames: merge anyway so the queue stays bounded.
      if (pending.length >= MERGE_AT_MOST) merge();
      redraw();
    });
    // The server lost events (Redis outage): read them from the API now, not at the next quiet check.
    socket.on("gap", () => void catchUp());
    void catchUp();
    return () => {
      closed = true;
      window.clearInterval(quietCheck);
      cancelAnimationFrame(frame);
      figures.stop();
      chart.stop();
      socket.close();
      if (window.scisLiveSocket === socket) delete window.scisLiveSocket;
    };
  }, [sessionId, feed]);

  // Before the paint that shows the pause/resume button's new label, so the figures never show a count
  // from before the pause catching up after it (their redraw is throttled).
  useLayoutEffect(() => {
    if (!paused) {
      feed.hold(feed.store.received);
      feed.frames.bump();
    }
    feed.figures.bump();
  }, [paused, feed]);

  return { feed, connection, error };
}
