import { Badge, Button, Code, Group, Table } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { dashboard } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";

const PAGE_SIZE = 50;

export function AuditPage() {
  const { t } = useTranslation();
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const before = cursors[cursors.length - 1];
  const page = useQuery({
    queryKey: ["audit", before],
    queryFn: () => unwrap(dashboard.GET("/api/dashboard/audit", { params: { query: { limit: PAGE_SIZE, before_id: before } } })),
    refetchInterval: before === undefined ? 5000 : false,
  });
  return (
    <>
      <PageTitle>{t("audit.title")}</PageTitle>
      <ErrorNote error={page.error} />
      {page.data?.items.length === 0 && <Empty>{t("audit.empty")}</Empty>}
      {!!page.data?.items.length && (
        <Table striped data-testid="audit">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("audit.at")}</Table.Th>
              <Table.Th>{t("audit.actor")}</Table.Th>
              <Table.Th>{t("audit.action")}</Table.Th>
              <Table.Th>{t("audit.target")}</Table.Th>
              <Table.Th>{t("audit.from")}</Table.Th>
              <Table.Th>{t("audit.details")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {page.data.items.map((entry) => (
              <Table.Tr key={entry.id}>
                <Table.Td>{formatDateTime(entry.at)}</Table.Td>
                <Table.Td>{entry.actor} {entry.role && <Badge size="xs" variant="outline">{t(`roles.${entry.role}`, { defaultValue: entry.role })}</Badge>}</Table.Td>
                <Table.Td><Badge variant="light">{entry.action}</Badge></Table.Td>
                <Table.Td>{entry.target}</Table.Td>
                <Table.Td>{entry.source_ip} {entry.service && `· ${entry.service}`}</Table.Td>
                <Table.Td><Code fz="xs">{Object.keys(entry.details).length ? JSON.stringify(entry.details) : ""}</Code></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group mt="sm">
        <Button variant="default" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>{t("common.previous")}</Button>
        <Button
          variant="default"
          disabled={page.data?.next_before_id == null}
          onClick={() => setCursors([...cursors, page.data!.next_before_id!])}
        >
          {t("common.next")}
        </Button>
      </Group>
    </>
  );
}
