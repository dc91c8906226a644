import { Badge, ScrollArea, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import type { components } from "../../api/schema/database";
import { figure, misestimate, planRows } from "../../lib/plan";

type ExplainResult = components["schemas"]["ExplainResult"];

// A node whose own cost is this share of the plan's, or whose row estimate is off by this factor, is flagged.
const HEAVY_SHARE = 0.5;
const OFF_BY = 10;
const OFF_BY_ROWS = 1000; // and by at least this many rows: a 0-row partition estimated at 160 is not news

/** EXPLAIN's plan as an indented tree: node, relation, rows estimated and actual, cost, time. */
export function PlanTree({ result }: { result: ExplainResult }) {
  const { t } = useTranslation();
  const rows = planRows(result.plan);
  const analyzed = result.execution_ms !== null && result.execution_ms !== undefined;
  return (
    <>
      <Text size="sm" mb="xs" data-testid="plan-summary">
        {t("reports4.planSummary", { nodes: rows.length, cost: figure(result.plan.total_cost) })}
        {result.planning_ms != null && ` · ${t("reports4.planning", { ms: figure(result.planning_ms) })}`}
        {analyzed && ` · ${t("reports4.execution", { ms: figure(result.execution_ms) })}`}
      </Text>
      <ScrollArea type="auto" viewportProps={{ tabIndex: 0 }}>
        <Table withTableBorder striped data-testid="plan-tree" aria-label={t("reports4.plan")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("reports4.node")}</Table.Th>
              <Table.Th>{t("reports4.relation")}</Table.Th>
              <Table.Th ta="right">{t("reports4.rowsEstimated")}</Table.Th>
              <Table.Th ta="right">{t("reports4.rowsActual")}</Table.Th>
              <Table.Th ta="right">{t("reports4.cost")}</Table.Th>
              <Table.Th ta="right">{t("reports4.time")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map(({ path, depth, node, ownCostShare }) => {
              const off = misestimate(node);
              return (
                <Table.Tr key={path} data-testid="plan-node" data-depth={depth}>
                  <Table.Td style={{ paddingLeft: `calc(${depth} * 1.25rem + 0.5rem)` }}>
                    <Text size="sm" fw={600} span>{depth > 0 ? "↳ " : ""}{node.node_type}</Text>
                    {ownCostShare >= HEAVY_SHARE && rows.length > 1 && (
                      <Badge size="xs" color="dark" ml={6}>{t("reports4.heavy")}</Badge>
                    )}
                    {node.detail && <Text size="xs" c="dimmed" ff="monospace">{node.detail}</Text>}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace">{node.relation ?? ""}</Text>
                    {node.index && <Text size="xs" c="dimmed">{t("reports4.index", { index: node.index })}</Text>}
                  </Table.Td>
                  <Table.Td ta="right">{figure(node.rows_estimated)}</Table.Td>
                  <Table.Td ta="right">
                    {figure(node.rows_actual)}
                    {node.loops != null && node.loops > 1 && <Text size="xs" c="dimmed">× {node.loops}</Text>}
                    {off !== null && off >= OFF_BY && Math.abs((node.rows_actual ?? 0) - (node.rows_estimated ?? 0)) >= OFF_BY_ROWS && <Badge size="xs" color="red.9" ml={6}>{t("reports4.offBy", { times: Math.round(off) })}</Badge>}
                  </Table.Td>
                  <Table.Td ta="right">{figure(node.startup_cost)}…{figure(node.total_cost)}</Table.Td>
                  <Table.Td ta="right">{node.time_ms != null ? `${figure(node.time_ms)} ms` : "—"}</Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </ScrollArea>
    </>
  );
}
