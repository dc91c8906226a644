import { Anchor, Badge, Button, Group, Table, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { profiles } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";

/** Profile search: handle, name, alias or id (fuzzy; an exact handle first). */
export function ProfilesPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const [q, setQ] = useState("");
  const list = useQuery({
    queryKey: ["profiles", q],
    queryFn: () => unwrap(profiles.GET("/api/profiles/profiles", { params: { query: { q: q || null, limit: 100 } } })),
  });
  return (
    <>
      <PageTitle
        actions={allows(me, "investigator") && (
          <Button component={Link} to="/profiles/new">{t("profiles2.newProfile")}</Button>
        )}
      >
        {t("profiles2.title")}
      </PageTitle>
      <TextInput
        label={t("profiles2.search")}
        description={t("profiles2.searchHint")}
        value={q}
        onChange={(event) => setQ(event.currentTarget.value)}
        mb="md"
        maw={480}
      />
      <ErrorNote error={list.error} />
      {list.data?.items.length === 0 && <Empty>{t("profiles2.empty")}</Empty>}
      {!!list.data?.items.length && (
        <Table striped data-testid="profiles">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("profiles2.handle")}</Table.Th>
              <Table.Th>{t("profiles2.displayName")}</Table.Th>
              <Table.Th>{t("profiles2.risk")}</Table.Th>
              <Table.Th>{t("profiles2.tags")}</Table.Th>
              <Table.Th>{t("profiles2.updated")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.items.map((profile) => (
              <Table.Tr key={profile.id}>
                <Table.Td><Anchor component={Link} to={`/profiles/${profile.id}`}>@{profile.unique_id}</Anchor></Table.Td>
                <Table.Td>{profile.display_name}</Table.Td>
                <Table.Td><Badge variant="light">{profile.risk_level}</Badge></Table.Td>
                <Table.Td><Group gap={4}>{profile.tags?.map((tag) => <Badge key={tag} variant="outline">{tag}</Badge>)}</Group></Table.Td>
                <Table.Td>{formatDateTime(profile.updated_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
