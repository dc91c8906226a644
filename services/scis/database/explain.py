"""EXPLAIN made readable: the analyst's query explained (FORMAT JSON) through the explorer's safe path,
and PostgreSQL's plan turned into a tree of the figures people read (node, relation, rows, cost, time)."""

from __future__ import annotations

import json
from typing import Any

from scis.database.models import ExplainResult, PlanNode
from scis.database.sanitiser import UnsafeQuery, check_read_only

# The plan keys that say what a node does beyond its type, in the order they are shown.
DETAIL_KEYS = (
    "Join Type", "Strategy", "Sort Key", "Group Key", "Hash Cond", "Merge Cond", "Index Cond", "Recheck Cond",
    "Filter", "Join Filter", "Rows Removed by Filter",
)  # fmt: skip


def explain_statement(statement: str, *, analyze: bool, max_sleep_seconds: float) -> str:
    """EXPLAIN (FORMAT JSON[, ANALYZE]) of the query, once the query itself passes the explorer's checks."""
    checked = check_read_only(statement, max_sleep_seconds=max_sleep_seconds)
    if checked.explain:
        raise UnsafeQuery("send the query without EXPLAIN: the plan is asked for here (analyze: true to run it too)")
    options = "FORMAT JSON, ANALYZE" if analyze else "FORMAT JSON"
    return f"EXPLAIN ({options}) {checked.sql}"


def _detail(node: dict[str, Any]) -> str | None:
    parts = [f"{key}: {_shown(node[key])}" for key in DETAIL_KEYS if key in node]
    return "; ".join(parts) or None


def _shown(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _relation(node: dict[str, Any]) -> str | None:
    name = node.get("Relation Name") or node.get("CTE Name") or node.get("Function Name")
    if name is None:
        return None
    alias = node.get("Alias")
    return f"{name} {alias}" if alias and alias != name else str(name)


def plan_node(node: dict[str, Any]) -> PlanNode:
    return PlanNode(
        node_type=node.get("Node Type", "?"),
        relation=_relation(node),
        index=node.get("Index Name"),
        detail=_detail(node),
        rows_estimated=node.get("Plan Rows"),
        rows_actual=node.get("Actual Rows"),
        loops=node.get("Actual Loops"),
        startup_cost=node.get("Startup Cost"),
        total_cost=node.get("Total Cost"),
        time_ms=node.get("Actual Total Time"),
        children=[plan_node(child) for child in node.get("Plans", [])],
    )


def read_plan(statement: str, value: Any) -> ExplainResult:
    """The one value EXPLAIN (FORMAT JSON) answers (JSON text or already decoded) as a readable tree."""
    raw = json.loads(value) if isinstance(value, str) else value
    top = raw[0] if isinstance(raw, list) and raw else raw
    if not isinstance(top, dict) or not isinstance(top.get("Plan"), dict):
        raise ValueError(f"EXPLAIN answered something that is not a plan: {str(raw)[:200]}")
    return ExplainResult(
        sql=statement,
        plan=plan_node(top["Plan"]),
        planning_ms=top.get("Planning Time"),
        execution_ms=top.get("Execution Time"),
        raw=raw,
    )
