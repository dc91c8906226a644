import i18next from "i18next";
import { describe, expect, it } from "vitest";
import { en } from "../i18n/en";
import { fr } from "../i18n/fr";
import { statusWords } from "./StatusBadge";

async function translator(language: "en" | "fr") {
  const instance = i18next.createInstance();
  await instance.init({ lng: language, resources: { en: { translation: en }, fr: { translation: fr } } });
  return instance.t;
}

describe("statusWords", () => {
  it("translates known statuses, waiting included", async () => {
    expect(statusWords(await translator("en"), "not_found")).toBe("not found");
    expect(statusWords(await translator("en"), "waiting")).toBe("waiting for the target");
    expect(statusWords(await translator("fr"), "waiting")).toBe("en attente de la cible");
  });

  it("shows a status newer than the UI in readable words, not as a key", async () => {
    expect(statusWords(await translator("fr"), "rate_limited_by_tiktok")).toBe("rate limited by tiktok");
  });
});
