import i18next from "i18next";
import { describe, expect, it } from "vitest";
import type { GapRead } from "../../api/client";
import { en } from "../../i18n/en";
import { fr } from "../../i18n/fr";
import { gapFill } from "./gapFill";

async function translator(language: "en" | "fr") {
  const instance = i18next.createInstance();
  await instance.init({ lng: language, resources: { en: { translation: en }, fr: { translation: fr } } });
  return instance.t;
}

const SESSION = "5b7e3c1e-0000-4000-8000-000000000001";
const base: GapRead = {
  seq: 7, reason: "crash", started: "2026-12-02T04:00:00Z", ended: "2026-12-02T04:00:10Z", detail: "killed",
  filled: "open", remaining: null, filled_by: null, filled_records: null,
};

describe("gapFill", () => {
  it("says an open gap is a loss", async () => {
    expect(gapFill(await translator("en"), base)).toEqual({
      tone: "red", words: "Not filled: whatever was sent during this gap is lost.",
    });
  });

  it("says how many re-sent records filled a gap, and which gap_filled record says so", async () => {
    const filled = { ...base, filled: "completely", filled_records: 42, filled_by: { session_id: SESSION, seq: 12 } };
    expect(gapFill(await translator("en"), filled)).toEqual({
      tone: "green", words: "Filled: 42 re-sent records stored from within the gap. (gap_filled record seq 12)",
    });
    const one = gapFill(await translator("en"), { ...filled, filled_records: 1 });
    expect(one.words).toContain("1 re-sent record stored");
  });

  it("names the stretch still lost of a partly filled gap, in French too", async () => {
    const partly = {
      ...base, filled: "partly", filled_records: 3, filled_by: { session_id: SESSION, seq: 9 },
      remaining: { from: "2026-12-02T04:00:00Z", to: "2026-12-02T04:00:04Z" },
    };
    const english = gapFill(await translator("en"), partly);
    expect(english.tone).toBe("yellow");
    expect(english.words).toBe(
      "Partly filled: 3 re-sent records stored; still lost from 2026-12-02T04:00:00Z to 2026-12-02T04:00:04Z. " +
        "(gap_filled record seq 9)",
    );
    expect(gapFill(await translator("fr"), partly).words).toContain("toujours perdu de 2026-12-02T04:00:00Z à 2026-12-02T04:00:04Z");
  });
});
