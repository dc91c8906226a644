import { describe, expect, it } from "vitest";
import { figure, misestimate, type PlanNode, planRows } from "./plan";

const scan = (relation: string, cost: number, estimated: number, actual?: number): PlanNode => ({
  node_type: "Seq Scan",
  relation,
  total_cost: cost,
  startup_cost: 0,
  rows_estimated: estimated,
  rows_actual: actual ?? null,
  children: [],
});

const plan: PlanNode = {
  node_type: "Hash Join",
  detail: "Join Type: Inner; Hash Cond: (e.session_id = s.id)",
  total_cost: 100,
  startup_cost: 5,
  rows_estimated: 50,
  rows_actual: 40,
  children: [scan("events e", 80, 1000, 10), { node_type: "Hash", total_cost: 10, children: [scan("live_sessions s", 10, 3, 3)] }],
};

describe("planRows", () => {
  it("lists the tree depth-first with each node's place and depth", () => {
    const rows = planRows(plan);
    expect(rows.map((row) => [row.path, row.depth, row.node.node_type, row.node.relation ?? null])).toEqual([
      ["0", 0, "Hash Join", null],
      ["0.0", 1, "Seq Scan", "events e"],
      ["0.1", 1, "Hash", null],
      ["0.1.0", 2, "Seq Scan", "live_sessions s"],
    ]);
  });

  it("gives each node the share of the cost spent in it alone", () => {
    const shares = planRows(plan).map((row) => row.ownCostShare);
    expect(shares).toEqual([0.1, 0.8, 0, 0.1]);
  });

  it("copes with a plan without costs", () => {
    expect(planRows({ node_type: "Result", children: [] })).toEqual([
      { path: "0", depth: 0, node: { node_type: "Result", children: [] }, ownCostShare: 0 },
    ]);
  });
});

describe("misestimate", () => {
  it("says how many times the estimate was off, whichever way", () => {
    expect(misestimate(scan("events", 1, 1000, 10))).toBe(100);
    expect(misestimate(scan("events", 1, 10, 1000))).toBe(100);
    expect(misestimate(scan("events", 1, 0, 0))).toBe(1);
  });

  it("is unknown without ANALYZE", () => {
    expect(misestimate(scan("events", 1, 1000))).toBeNull();
  });
});

describe("figure", () => {
  it("groups thousands and rounds costs", () => {
    expect(figure(1234567)).toBe("1,234,567");
    expect(figure(12.345)).toBe("12.35");
    expect(figure(null)).toBe("—");
  });
});
