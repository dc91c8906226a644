// What lets the live view redraw only the parts that changed: the feed list subscribes to a ticker
// bumped once per animation frame, the figures and the chart to tickers bumped a few times a second.
// The page that owns the feed never re-renders per frame (its Mantine tree cost more than the rows).
import { useSyncExternalStore } from "react";

/** A version number components read with `useTicker`: each `bump` redraws exactly its subscribers. */
export class Ticker {
  private version = 0;
  private readonly listeners = new Set<() => void>();

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly get = (): number => this.version;

  bump(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}

/** A ticker bumped at most once per `everyMs`: `poke` as often as you like; the last poke always
 * leads to a bump (a trailing one), so what it shows is never left behind once things go quiet. */
export class ThrottledTicker extends Ticker {
  private last = -Infinity;
  private trailing: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly everyMs: number, private readonly now: () => number = () => performance.now()) {
    super();
  }

  poke(): void {
    if (this.trailing !== null) return;
    const wait = this.last + this.everyMs - this.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.trailing = setTimeout(() => {
      this.trailing = null;
      this.fire();
    }, wait);
  }

  /** Drops a pending trailing bump (the view is going away). */
  stop(): void {
    if (this.trailing !== null) clearTimeout(this.trailing);
    this.trailing = null;
  }

  private fire(): void {
    this.last = this.now();
    this.bump();
  }
}

/** The ticker's version, re-rendering the calling component at each bump. */
export function useTicker(ticker: Ticker): number {
  return useSyncExternalStore(ticker.subscribe, ticker.get);
}
