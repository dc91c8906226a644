import { sql } from "@codemirror/lang-sql";
import { Accordion, Alert, Button, Code, Grid, Group, Paper, ScrollArea, Table, Text, Title, UnstyledButton } from "@mantine/core";
import { useLocalStorage } from "@mantine/hooks";
import { useMutation, useQuery } from "@tanstack/react-query";
import { createColumnHelper, flexRender, getCoreRowModel, useReactTable } from "@tanstack/react-table";
import CodeMirror, { EditorView } from "@uiw/react-codemirror";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { database, type QueryResult } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { errorPosition, toCsv } from "../../lib/csv";

const HISTORY_SIZE = 20;
const EXAMPLE = "SELECT kind, count(*) AS events\nFROM events\nGROUP BY kind\nORDER BY events DESC";

type Row = unknown[];
const columnHelper = createColumnHelper<Row>();

function show(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function ResultGrid({ result }: { result: QueryResult }) {
  const columns = useMemo(
    () => result.columns.map((name, index) => columnHelper.accessor((row) => row[index], { id: `${index}`, header: name, cell: (c) => show(c.getValue()) })),
    [result],
  );
  const table = useReactTable({ data: result.rows, columns, getCoreRowModel: getCoreRowModel() });
  return (
    <ScrollArea h={360} type="auto">
      <Table striped withTableBorder stickyHeader data-testid="results">
        <Table.Thead>
          {table.getHeaderGroups().map((group) => (
            <Table.Tr key={group.id}>
              {group.headers.map((header) => (
                <Table.Th key={header.id}>{flexRender(header.column.columnDef.header, header.getContext())}</Table.Th>
              ))}
            </Table.Tr>
          ))}
        </Table.Thead>
        <Table.Tbody>
          {table.getRowModel().rows.map((row) => (
            <Table.Tr key={row.id}>
              {row.getVisibleCells().map((c) => (
                <Table.Td key={c.id} ff="monospace" fz="xs">{flexRender(c.column.columnDef.cell, c.getContext())}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}

function download(result: QueryResult) {
  const blob = new Blob([toCsv(result.columns, result.rows)], { type: "text/csv;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `scis-query-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

export function ExplorerPage() {
  const { t } = useTranslation();
  const [text, setText] = useState(EXAMPLE);
  const [history, setHistory] = useLocalStorage<string[]>({ key: "scis.explorer.history", defaultValue: [] });
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
    mutationFn: (statement: string) => unwrap(database.POST("/api/database/query", { body: { sql: statement } })),
    onSuccess: (_, statement) => setHistory([statement, ...history.filter((item) => item !== statement)].slice(0, HISTORY_SIZE)),
  });
  const failure = run.error instanceof ApiError ? run.error : null;
  const position = failure ? errorPosition(failure.message, text) : null;
  return (
    <>
      <PageTitle>{t("explorer.title")}</PageTitle>
      <Grid>
        <Grid.Col span={{ base: 12, md: 9 }}>
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
            <Button variant="default" disabled={!run.data} onClick={() => run.data && download(run.data)}>
              {t("explorer.csv")}
            </Button>
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
                    {table.columns.map((column) => (
                      <Text key={column.name} size="xs" ff="monospace">{column.name} <Text span c="dimmed" size="xs">{column.type}</Text></Text>
                    ))}
                  </Accordion.Panel>
                </Accordion.Item>
              ))}
            </Accordion>
          </ScrollArea>
          <Title order={3} size="h5" mt="md" mb="xs">{t("explorer.history")}</Title>
          {history.length === 0 && <Text size="xs" c="dimmed">{t("explorer.noHistory")}</Text>}
          {history.map((item) => (
            <UnstyledButton key={item} onClick={() => setText(item)} display="block" mb={4} w="100%">
              <Code block fz="xs">{item.length > 120 ? `${item.slice(0, 120)}…` : item}</Code>
            </UnstyledButton>
          ))}
        </Grid.Col>
      </Grid>
    </>
  );
}
