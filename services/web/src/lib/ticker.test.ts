import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ThrottledTicker, Ticker } from "./ticker";

describe("Ticker", () => {
  it("tells each subscriber of every bump, and no longer once unsubscribed", () => {
    const ticker = new Ticker();
    const seen: number[] = [];
    const unsubscribe = ticker.subscribe(() => seen.push(ticker.get()));
    ticker.bump();
    ticker.bump();
    unsubscribe();
    ticker.bump();
    expect(seen).toEqual([1, 2]);
    expect(ticker.get()).toBe(3);
  });
});

describe("ThrottledTicker", () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 0;
  });
  afterEach(() => vi.useRealTimers());
  const advance = (ms: number) => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };

  it("bumps at once, then at most once per period, always ending with a trailing bump", () => {
    const ticker = new ThrottledTicker(250, () => clock);
    ticker.poke();
    expect(ticker.get()).toBe(1);
    for (let step = 0; step < 10; step += 1) {
      advance(10);
      ticker.poke(); // 100 ms of pokes: one trailing bump pending, none yet
    }
    expect(ticker.get()).toBe(1);
    advance(150);
    expect(ticker.get()).toBe(2); // the trailing bump, 250 ms after the first
    advance(1000);
    expect(ticker.get()).toBe(2); // quiet: nothing more
    ticker.poke();
    expect(ticker.get()).toBe(3);
  });

  it("drops a pending bump when stopped", () => {
    const ticker = new ThrottledTicker(250, () => clock);
    ticker.poke();
    advance(10);
    ticker.poke();
    ticker.stop();
    advance(1000);
    expect(ticker.get()).toBe(1);
  });
});
