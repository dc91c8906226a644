import { describe, expect, it } from "vitest";
import { en } from "./en";
import { fr } from "./fr";

function keys(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === "object" ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

describe("translations", () => {
  it("French and English have the same keys, none empty", () => {
    expect(keys(fr).sort()).toEqual(keys(en).sort());
    for (const dictionary of [en, fr]) {
      for (const key of keys(dictionary)) {
        const value = key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], dictionary);
        expect(value, key).not.toBe("");
      }
    }
  });

  it("every key the source code uses exists", async () => {
    const sources = import.meta.glob("../**/*.tsx", { query: "?raw", import: "default", eager: true });
    const known = new Set(keys(en).map((key) => key.replace(/_(one|other)$/, "")));
    const used = Object.values(sources).flatMap((text) => [...(text as string).matchAll(/\bt\("([a-zA-Z]+\.[a-zA-Z.]+)"/g)].map((m) => m[1]));
    expect(used.length).toBeGreaterThan(50);
    expect(used.filter((key) => !known.has(key))).toEqual([]);
  });
});
