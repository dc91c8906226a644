import { Badge, Paper, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { analyser } from "../../api/client";
import { unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { formatDateTime } from "../../lib/format";
import { gapFill } from "./gapFill";

/** The session's gaps, each with its reason, span and whether re-sent messages filled it or it remains a loss. */
export function GapsPanel({ sessionId }: { sessionId: string }) {
  const { t } = useTranslation();
  const gaps = useQuery({
    queryKey: ["gaps", sessionId],
    queryFn: () =>
      unwrap(analyser.GET("/api/analyser/sessions/{session_id}/gaps", { params: { path: { session_id: sessionId } } })),
  });
  return (
    <Paper withBorder p="sm" mb="md" data-testid="gaps">
      <Title order={3} size="h5" mb="xs">{t("gapFill.title")}</Title>
      <ErrorNote error={gaps.error} />
      {gaps.data && gaps.data.length === 0 && <Text size="sm" c="dimmed">{t("gapFill.none")}</Text>}
      {gaps.data && gaps.data.length > 0 && (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>seq</Table.Th>
              <Table.Th>{t("gapFill.reason")}</Table.Th>
              <Table.Th>{t("gapFill.span")}</Table.Th>
              <Table.Th>{t("gapFill.state")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {gaps.data.map((gap) => {
              const fill = gapFill(t, gap, formatDateTime);
              return (
                <Table.Tr key={gap.seq} data-filled={gap.filled}>
                  <Table.Td>{gap.seq}</Table.Td>
                  <Table.Td>
                    {gap.reason}
                    {gap.detail && <Text size="xs" c="dimmed">{gap.detail}</Text>}
                  </Table.Td>
                  <Table.Td>{formatDateTime(gap.started)} → {formatDateTime(gap.ended)}</Table.Td>
                  <Table.Td>
                    <Badge color={fill.tone} variant="dot" mr="xs">{t(`gapFill.tone.${fill.tone}`)}</Badge>
                    <Text span size="sm">{fill.words}</Text>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}
