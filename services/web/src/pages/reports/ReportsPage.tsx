import { Anchor, Button, Code, Group, Paper, Select, Table, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { reports } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";
import { useCases } from "../cases/CasesPage";

function GenerateForm() {
  const { t, i18n } = useTranslation();
  const client = useQueryClient();
  const [params] = useSearchParams();
  // The report is worded in the language the analyst reads the UI in.
  const language = i18n.language.startsWith("fr") ? "fr" : "en";
  const cases = useCases();
  const [caseId, setCaseId] = useState<string | null>(params.get("case"));
  const [title, setTitle] = useState("");
  const generate = useMutation({
    mutationFn: () =>
      unwrap(reports.POST("/api/reports/reports", { body: { case_id: Number(caseId), title: title || null, language } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["reports"] }),
  });
  const error = generate.error instanceof ApiError ? generate.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    generate.mutate();
  };
  return (
    <Paper withBorder p="md" mb="lg" component="form" onSubmit={submit} noValidate aria-labelledby="new-report">
      <Title order={3} id="new-report" mb="sm">{t("reports.generate")}</Title>
      <Group align="flex-start" grow>
        <Select
          label={t("captures.case")}
          required
          searchable
          data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))}
          value={caseId}
          onChange={setCaseId}
          error={error?.fieldProblem("case_id")}
        />
        <TextInput
          label={t("reports.reportTitle")}
          description={t("reports.titleHint")}
          value={title}
          onChange={(event) => setTitle(event.currentTarget.value)}
          error={error?.fieldProblem("title")}
        />
      </Group>
      {generate.error && !error?.fields.length && <ErrorNote error={generate.error} />}
      <Button type="submit" mt="sm" loading={generate.isPending} disabled={!caseId}>{t("reports.generateButton")}</Button>
    </Paper>
  );
}

export function ReportsPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const list = useQuery({ queryKey: ["reports"], queryFn: () => unwrap(reports.GET("/api/reports/reports")) });
  const cases = useCases();
  const caseName = (id: number | null) => cases.data?.find((item) => item.id === id)?.reference ?? "—";
  return (
    <>
      <PageTitle>{t("reports.title")}</PageTitle>
      {allows(me, "investigator") && <GenerateForm />}
      <ErrorNote error={list.error} />
      {list.data?.length === 0 && <Empty>{t("reports.empty")}</Empty>}
      {!!list.data?.length && (
        <Table striped data-testid="reports">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("reports.reportTitle")}</Table.Th>
              <Table.Th>{t("captures.case")}</Table.Th>
              <Table.Th>{t("reports.createdBy")}</Table.Th>
              <Table.Th>{t("reports.createdAt")}</Table.Th>
              <Table.Th>SHA-256</Table.Th>
              <Table.Th>PDF</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.map((report) => (
              <Table.Tr key={report.id}>
                <Table.Td>{report.title}</Table.Td>
                <Table.Td>{caseName(report.case_id)}</Table.Td>
                <Table.Td>{report.created_by}</Table.Td>
                <Table.Td>{formatDateTime(report.created_at)}</Table.Td>
                <Table.Td><Code fz="xs" style={{ wordBreak: "break-all" }}>{report.sha256}</Code></Table.Td>
                <Table.Td>
                  <Anchor href={`/api/reports/reports/${report.id}/pdf`} download data-testid="download-pdf">
                    {t("reports.download")}
                  </Anchor>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
