import { sql } from "@codemirror/lang-sql";
import { Accordion, ActionIcon, Alert, Button, Checkbox, Code, Grid, Group, Paper, ScrollArea, Select, Text, TextInput, Title, UnstyledButton } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import CodeMirror, { EditorView } from "@uiw/react-codemirror";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { database } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { errorPosition } from "../../lib/csv";
import { useCases } from "../cases/CasesPage";
import { BuiltinQueries } from "./BuiltinQueries";
import { PlanTree } from "./PlanTree";
import { ResultGrid } from "./ResultGrid";

const HISTORY_SIZE = 20;

/** A v4 UUID, also where crypto.randomUUID is missing (plain-http origins). */
function newQueryId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The server's CSV of the query (same caps as the grid), saved as a file. */
async function downloadCsv(statement: string): Promise<void> {
  const response = await fetch("/api/database/query.csv", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql: statement }),
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { detail?: string };
    throw new ApiError(response.status, body.detail ?? response.statusText);
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `scis-query-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

function SavedQueries({ text, onPick }: { text: string; onPick: (sql: string) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const cases = useCases();
  const [name, setName] = useState("");
  const [caseId, setCaseId] = useState<string | null>(null);
  const saved = useQuery({ queryKey: ["explorer-saved"], queryFn: () => unwrap(database.GET("/api/database/saved")) });
  const save = useMutation({
    mutationFn: () =>
      unwrap(database.POST("/api/database/saved", { body: { name, sql: text, case_id: caseId ? Number(caseId) : null } })),
    onSuccess: () => {
      setName("");
      void client.invalidateQueries({ queryKey: ["explorer-saved"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(database.DELETE("/api/database/saved/{saved_id}", { params: { path: { saved_id: id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["explorer-saved"] }),
  });
  const error = save.error instanceof ApiError ? save.error : null;
  return (
    <>
      <Title order={3} size="h5" mt="md" mb="xs">{t("reports2.saved")}</Title>
      <ErrorNote error={saved.error ?? remove.error} />
      {saved.data?.length === 0 && <Text size="xs" c="dimmed">{t("reports2.noSaved")}</Text>}
      {saved.data?.map((item) => (
        <Group key={item.id} gap={4} wrap="nowrap" mb={4}>
          <UnstyledButton onClick={() => onPick(item.sql)} style={{ flex: 1 }} data-testid="saved-query">
            <Text size="xs" fw={600}>{item.name}</Text>
            <Text size="xs" c="dimmed">{item.owner}{item.case_id ? ` · ${cases.data?.find((c) => c.id === item.case_id)?.reference ?? item.case_id}` : ""}</Text>
          </UnstyledButton>
          <ActionIcon size="sm" variant="subtle" color="red" aria-label={`${t("reports2.deleteSaved")} ${item.name}`} onClick={() => remove.mutate(item.id)}>
            ×
          </ActionIcon>
        </Group>
      ))}
      <TextInput
        size="xs"
        mt="xs"
        label={t("reports2.saveAs")}
        value={name}
        onChange={(event) => setName(event.currentTarget.value)}
        error={error?.fieldProblem("name") ?? error?.fieldProblem("sql") ?? (error && !error.fields.length ? error.message : undefined)}
      />
      <Select
        size="xs"
        label={t("reports2.shareWith")}
        clearable
        data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: item.reference }))}
        value={caseId}
        onChange={setCaseId}
        error={error?.fieldProblem("case_id")}
      />
      <Button size="xs" mt={4} disabled={!name.trim()} loading={save.isPending} onClick={() => save.mutate()} data-testid="save-query">
        {t("reports2.save")}
      </Button>
    </>
  );
}
const EXAMPLE = "SELECT kind, count(*) AS events\nFROM events\nGROUP BY kind\nORDER BY events DESC";

export function ExplorerPage() {
  const { t } = useTranslation();
  const [text, setText] = useState(EXAMPLE);
  const client = useQueryClient();
  const [queryId, setQueryId] = useState<string | null>(null);
  const history = useQuery({
    queryKey: ["explorer-history"],
    queryFn: () => unwrap(database.GET("/api/database/history", { params: { query: { limit: HISTORY_SIZE } } })),
  });
  const tables = useQuery({ queryKey: ["tables"], queryFn: () => unwrap(database.GET("/api/database/tables")) });
  const schema = useMemo(
    () => Object.fromEntries((tables.data ?? []).map((table) => [table.name, table.columns.map((column) => column.name)])),
    [tables.data],
  );
  const label = t("explorer.editor");
  const extensions = useMemo(
    () => [sql({ schema, upperCaseKeywords: true }), EditorView.contentAttributes.of({ "aria-label": label })],
    [schema, label],
  );
  const run = useMutation({
    mutationFn: (statement: string) => {
      const id = newQueryId();
      setQueryId(id);
      return unwrap(database.POST("/api/database/query", { body: { sql: statement, query_id: id } }));
    },
    onSettled: () => {
      setQueryId(null);
      void client.invalidateQueries({ queryKey: ["explorer-history"] });
    },
  });
  const cancel = useMutation({
    mutationFn: (id: string) => unwrap(database.POST("/api/database/queries/{query_id}/cancel", { params: { path: { query_id: id } } })),
  });
  const [analyze, setAnalyze] = useState(false);
  const explain = useMutation({
    mutationFn: (statement: string) => unwrap(database.POST("/api/database/explain", { body: { sql: statement, analyze } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["explorer-history"] }),
  });
  const csv = useMutation({
    mutationFn: downloadCsv,
    onSettled: () => client.invalidateQueries({ queryKey: ["explorer-history"] }),
  });
  const failure = run.error instanceof ApiError ? run.error : null;
  const position = failure ? errorPosition(failure.message, text) : null;
  return (
    <>
      <PageTitle>{t("explorer.title")}</PageTitle>
      <Grid>
        <Grid.Col span={{ base: 12, md: 9 }}>
          <BuiltinQueries />
          <Paper withBorder mb="sm">
            <CodeMirror
              value={text}
              height="180px"
              extensions={extensions}
              onChange={setText}
              basicSetup={{ lineNumbers: true }}
            />
          </Paper>
          <Group mb="sm">
            <Button onClick={() => run.mutate(text)} loading={run.isPending} data-testid="run-query">{t("explorer.run")}</Button>
            {run.isPending && queryId && (
              <Button variant="light" color="red" onClick={() => cancel.mutate(queryId)} data-testid="cancel-query">
                {t("reports2.cancelQuery")}
              </Button>
            )}
            <Button variant="default" disabled={!text.trim()} loading={csv.isPending} onClick={() => csv.mutate(text)} data-testid="csv-query">
              {t("reports2.csvServer")}
            </Button>
            <Button variant="default" disabled={!text.trim()} loading={explain.isPending} onClick={() => explain.mutate(text)} data-testid="explain-query">
              {t("reports4.explain")}
            </Button>
            <Checkbox label={t("reports4.analyze")} checked={analyze} onChange={(event) => setAnalyze(event.currentTarget.checked)} data-testid="explain-analyze" />
            <Text size="xs" c="dimmed">{t("explorer.readOnly")}</Text>
          </Group>
          {failure && (
            <Alert color="red" title={t("explorer.failed")} role="alert" mb="sm">
              {failure.fields.length ? failure.fields.map((item) => `${item.field}: ${item.problem}`).join("; ") : failure.message}
              {position !== null && (
                <Code block mt="xs">
                  {text.slice(Math.max(0, position - 30), position - 1)}
                  <mark>{text.slice(position - 1, position) || " "}</mark>
                  {text.slice(position, position + 30)}
                </Code>
              )}
            </Alert>
          )}
          {run.error && !failure && <ErrorNote error={run.error} />}
          <ErrorNote error={csv.error ?? cancel.error ?? explain.error} />
          {explain.data && <PlanTree result={explain.data} />}
          {run.data && (
            <>
              <Text size="sm" mb="xs" data-testid="row-count">
                {t("explorer.rows", { count: run.data.row_count, ms: run.data.elapsed_ms.toFixed(1) })}
                {run.data.truncated && ` ${t("explorer.truncated")}`}
              </Text>
              <ResultGrid result={run.data} />
            </>
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 3 }}>
          <Title order={3} size="h5" mb="xs">{t("explorer.schema")}</Title>
          <ErrorNote error={tables.error} />
          <ScrollArea h={300} type="auto">
            <Accordion multiple variant="contained">
              {tables.data?.map((table) => (
                <Accordion.Item key={table.name} value={table.name}>
                  <Accordion.Control>{table.name}</Accordion.Control>
                  <Accordion.Panel>
                    {table.comment && <Text size="xs" mb={4}>{table.comment}</Text>}
                    {table.columns.map((column) => (
                      <Text key={column.name} size="xs" ff="monospace" title={column.comment ?? undefined}>
                        {column.name} <Text span c="dimmed" size="xs">{column.type}</Text>
                        {column.comment && <Text span c="dimmed" size="xs" ff="sans-serif"> — {column.comment}</Text>}
                      </Text>
                    ))}
                  </Accordion.Panel>
                </Accordion.Item>
              ))}
            </Accordion>
          </ScrollArea>
          <SavedQueries text={text} onPick={setText} />
          <Title order={3} size="h5" mt="md" mb="xs">{t("reports2.history")}</Title>
          <ErrorNote error={history.error} />
          {history.data?.length === 0 && <Text size="xs" c="dimmed">{t("explorer.noHistory")}</Text>}
          {history.data?.map((item) => (
            <UnstyledButton key={item.id} onClick={() => setText(item.sql)} display="block" mb={4} w="100%" data-testid="history-entry">
              <Code block fz="xs" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>{item.sql.length > 120 ? `${item.sql.slice(0, 120)}…` : item.sql}</Code>
              <Text size="xs" c={item.outcome === "answered" ? "dimmed" : "red"}>
                {item.outcome}{item.row_count !== null ? ` · ${item.row_count}` : ""}{item.format === "csv" ? " · CSV" : ""}
              </Text>
            </UnstyledButton>
          ))}
        </Grid.Col>
      </Grid>
    </>
  );
}
