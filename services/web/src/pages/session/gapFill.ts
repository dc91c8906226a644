import type { TFunction } from "i18next";
import type { GapRead } from "../../api/client";

export interface GapFill {
  /** green: every message sent during the gap was received again; yellow: partly; red: a loss. */
  tone: "green" | "yellow" | "red";
  words: string;
}

/** What a gap's `gap_filled` records say of it (GET /sessions/{id}/gaps, decision 420), in the reader's words. */
export function gapFill(t: TFunction, gap: GapRead, at: (iso: string) => string = (iso) => iso): GapFill {
  const records = gap.filled_records ?? 0;
  const by = gap.filled_by ? t("gapFill.by", { seq: gap.filled_by.seq }) : "";
  if (gap.filled === "completely") {
    return { tone: "green", words: `${t("gapFill.completely", { count: records })} ${by}` };
  }
  if (gap.filled === "partly") {
    const from = at(gap.remaining?.from ?? gap.started);
    const to = at(gap.remaining?.to ?? gap.ended);
    return { tone: "yellow", words: `${t("gapFill.partly", { count: records, from, to })} ${by}` };
  }
  return { tone: "red", words: t("gapFill.open") };
}
