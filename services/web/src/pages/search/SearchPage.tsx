import { Anchor, Button, Group, Switch, Table, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { type FormEvent, Fragment, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { profiles } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";

/** The API marks each hit between U+0002 and U+0003; the pieces are rendered as text, never as markup. */
export function Highlight({ text }: { text: string }) {
  return (
    <>
      {text.split("\u0002").map((part, index) => {
        const [hit, rest] = index === 0 ? ["", part] : part.split("\u0003");
        return <Fragment key={index}>{hit && <mark>{hit}</mark>}{rest}</Fragment>;
      })}
    </>
  );
}

const PAGE = 50;
const AROUND = 2;

type Nearby = { seq: number; kind: string; unique_id?: string | null; body?: string | null };

/** The records next to a hit in its live, in small italics, oldest first. */
function Surroundings({ records, label }: { records: Nearby[]; label: string }) {
  if (!records.length) return null;
  return (
    <Text size="xs" fs="italic" data-testid="around">
      {records.map((record) => (
        <span key={record.seq} style={{ display: "block" }}>
          {label} #{record.seq} {record.kind}{record.unique_id ? ` @${record.unique_id}` : ""}{record.body ? `: ${record.body}` : ""}
        </span>
      ))}
    </Text>
  );
}

export function SearchPage() {
  const { t } = useTranslation();
  const [input, setInput] = useState("");
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const [around, setAround] = useState(false);
  const results = useQuery({
    queryKey: ["event-search", q, offset, around],
    enabled: q.length > 0,
    queryFn: () => unwrap(profiles.GET("/api/profiles/search/events",
      { params: { query: { q, limit: PAGE, offset, around: around ? AROUND : 0 } } })),
  });
  const error = results.error instanceof ApiError ? results.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setOffset(0);
    setQ(input.trim());
  };
  return (
    <>
      <PageTitle>{t("profiles2.searchTitle")}</PageTitle>
      <Group component="form" onSubmit={submit} align="flex-end" mb="md">
        <TextInput label={t("profiles2.searchWords")} description={t("profiles2.searchWordsHint")} value={input}
          onChange={(e) => setInput(e.currentTarget.value)} error={error?.fieldProblem("q")} w={420} />
        <Button type="submit">{t("profiles2.searchButton")}</Button>
        <Switch label={t("profiles3.around")} checked={around} onChange={(e) => setAround(e.currentTarget.checked)} mb={8} />
      </Group>
      {results.error && !error?.fields.length && <ErrorNote error={results.error} />}
      {results.data?.items.length === 0 && <Empty>{t("profiles2.noHits")}</Empty>}
      {!!results.data?.items.length && (
        <Table striped data-testid="search-hits">
          <Table.Tbody>
            {results.data.items.map((hit) => (
              <Table.Tr key={`${hit.session_id}-${hit.seq}`}>
                <Table.Td>{formatDateTime(hit.captured_at)}</Table.Td>
                <Table.Td>{hit.kind}</Table.Td>
                <Table.Td>
                  <Surroundings records={hit.before ?? []} label={t("profiles3.before")} />
                  <Text size="sm"><Highlight text={hit.highlight} /></Text>
                  <Surroundings records={hit.after ?? []} label={t("profiles3.after")} />
                </Table.Td>
                <Table.Td><Anchor component={Link} to={`/sessions/${hit.session_id}`}>#{hit.seq}</Anchor></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group mt="sm">
        <Button variant="default" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>{t("common.previous")}</Button>
        <Button variant="default" disabled={!results.data?.has_more} onClick={() => setOffset(offset + PAGE)}>{t("common.next")}</Button>
      </Group>
    </>
  );
}
