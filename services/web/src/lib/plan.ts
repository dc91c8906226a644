// EXPLAIN's plan (POST /api/database/explain) as the rows of an indented tree, and what in it stands out.
import type { components } from "../api/schema/database";

export type PlanNode = components["schemas"]["PlanNode"];

export interface PlanRow {
  /** "0", "0.1", "0.1.0": where the node sits, unique in the tree */
  path: string;
  depth: number;
  node: PlanNode;
  /** share of the whole plan's cost spent in this node alone (0-1), for the slowest-part cue */
  ownCostShare: number;
}

function ownCost(node: PlanNode): number {
  const children = (node.children ?? []).reduce((sum, child) => sum + (child.total_cost ?? 0), 0);
  return Math.max(0, (node.total_cost ?? 0) - children);
}

/** The tree depth-first, parents before their children, as PostgreSQL prints it. */
export function planRows(root: PlanNode): PlanRow[] {
  const total = root.total_cost ?? 0;
  const rows: PlanRow[] = [];
  const visit = (node: PlanNode, path: string, depth: number) => {
    rows.push({ path, depth, node, ownCostShare: total > 0 ? ownCost(node) / total : 0 });
    (node.children ?? []).forEach((child, index) => visit(child, `${path}.${index}`, depth + 1));
  };
  visit(root, "0", 0);
  return rows;
}

/** How far the planner's row estimate was off (actual / estimated, ≥ 1 either way); null without ANALYZE. */
export function misestimate(node: PlanNode): number | null {
  if (node.rows_actual === null || node.rows_actual === undefined || node.rows_estimated === null || node.rows_estimated === undefined) {
    return null;
  }
  const actual = Math.max(node.rows_actual, 1);
  const estimated = Math.max(node.rows_estimated, 1);
  return actual >= estimated ? actual / estimated : estimated / actual;
}

/** A number of rows or a cost as people read it: 1234567 → "1,234,567", 12.345 → "12.35". */
export function figure(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString("en-US", { maximumFractionDigits: Number.isInteger(value) ? 0 : digits });
}
