// One live's feed: Socket.IO for what happens now, the REST events API for everything before and for
// every hole a dropped connection leaves, merged by seq in a FeedStore.
import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { analyser, type EventRead } from "../../api/client";
import { unwrap } from "../../api/errors";
import { FeedStore } from "../../lib/feed";

export type Connection = "connecting" | "connected" | "disconnected";

const PAGE = 1000;
// When the socket has been quiet this long, ask the API whether more was stored (a lagging or
// stalled fan-out must not leave the feed silently behind the evidence).
const QUIET_MS = 2000;

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

export function useLiveFeed(sessionId: string, paused: boolean) {
  const storeRef = useRef(new FeedStore());
  const [version, setVersion] = useState(0);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [error, setError] = useState<unknown>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const store = new FeedStore();
    storeRef.current = store;
    let frame = 0;
    let closed = false;
    let catchingUp: Promise<void> | null = null;
    let again = false;

    // At most one redraw per animation frame, however fast events come.
    const redraw = () => {
      if (frame || pausedRef.current) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion((value) => value + 1);
      });
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
    socket.on("connect", async () => {
      setConnection("connected");
      // Join first, then read the API: whatever is published after the join arrives here, and
      // everything before it is in the store already.
      await socket.emitWithAck("join", { session_id: sessionId });
      await catchUp();
    });
    socket.on("disconnect", () => setConnection("disconnected"));
    socket.on("connect_error", () => setConnection("disconnected"));
    let lastSocketEvent = Date.now();
    const quietCheck = window.setInterval(() => {
      if (Date.now() - lastSocketEvent >= QUIET_MS) void catchUp();
    }, QUIET_MS);
    // One message per commit: the events of one live, in seq order.
    socket.on("events", (batch: EventRead[]) => {
      lastSocketEvent = Date.now();
      const wasComplete = store.contiguous === store.maxSeq;
      store.add(batch);
      if (wasComplete && store.hasHole()) void catchUp();
      redraw();
    });
    void catchUp();
    return () => {
      closed = true;
      window.clearInterval(quietCheck);
      cancelAnimationFrame(frame);
      socket.close();
      if (window.scisLiveSocket === socket) delete window.scisLiveSocket;
    };
  }, [sessionId]);

  useEffect(() => {
    if (!paused) setVersion((value) => value + 1);
  }, [paused]);

  return { store: storeRef.current, version, connection, error };
}
