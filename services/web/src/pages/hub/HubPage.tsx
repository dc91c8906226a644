import { Anchor, Badge, Card, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { analyser, dashboard } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDateTime, formatNumber } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";

const REFRESH_MS = 5000;

export function HubPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const overview = useQuery({
    queryKey: ["overview"],
    queryFn: () => unwrap(dashboard.GET("/api/dashboard/overview")),
    refetchInterval: REFRESH_MS,
  });
  const captures = useQuery({
    queryKey: ["monitors", "active"],
    queryFn: () => unwrap(analyser.GET("/api/analyser/monitors", { params: { query: { active: true } } })),
    refetchInterval: REFRESH_MS,
  });
  const isAdmin = allows(me, "admin");
  const audit = useQuery({
    queryKey: ["audit", "recent"],
    queryFn: () => unwrap(dashboard.GET("/api/dashboard/audit", { params: { query: { limit: 8 } } })),
    refetchInterval: REFRESH_MS,
    enabled: isAdmin,
  });
  const figures = overview.data?.figures;
  return (
    <>
      <PageTitle>{t("hub.title")}</PageTitle>
      <ErrorNote error={overview.error} />
      {figures && (
        <SimpleGrid cols={{ base: 2, md: 6 }} mb="lg">
          {(Object.keys(figures) as (keyof typeof figures)[]).map((key) => (
            <Card withBorder key={key} padding="sm">
              <Text size="xs" c="dimmed">{t(`hub.figures.${key}`)}</Text>
              <Text size="xl" fw={700} data-testid={`figure-${key}`}>{formatNumber(figures[key])}</Text>
            </Card>
          ))}
        </SimpleGrid>
      )}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <section aria-labelledby="hub-services">
          <Title order={3} id="hub-services" mb="xs">{t("hub.services")}</Title>
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("hub.service")}</Table.Th>
                <Table.Th>{t("common.status")}</Table.Th>
                <Table.Th>{t("hub.latency")}</Table.Th>
                <Table.Th>{t("hub.detail")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {overview.data?.services.map((service) => (
                <Table.Tr key={service.service}>
                  <Table.Td>{service.service}</Table.Td>
                  <Table.Td><StatusBadge status={service.status} /></Table.Td>
                  <Table.Td>{service.latency_ms == null ? "—" : `${service.latency_ms.toFixed(1)} ms`}</Table.Td>
                  <Table.Td>{service.detail}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </section>
        <section aria-labelledby="hub-captures">
          <Title order={3} id="hub-captures" mb="xs">{t("hub.activeCaptures")}</Title>
          <ErrorNote error={captures.error} />
          {captures.data?.length === 0 && (
            <Empty>
              {t("hub.noCaptures")} <Anchor component={Link} to="/captures">{t("nav.captures")}</Anchor>
            </Empty>
          )}
          {!!captures.data?.length && (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("captures.target")}</Table.Th>
                  <Table.Th>{t("common.status")}</Table.Th>
                  <Table.Th>{t("captures.events")}</Table.Th>
                  <Table.Th>{t("captures.viewers")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {captures.data.map((capture) => (
                  <Table.Tr key={capture.session_id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/live/${capture.session_id}`}>@{capture.target}</Anchor>
                    </Table.Td>
                    <Table.Td><StatusBadge status={capture.status} /></Table.Td>
                    <Table.Td>{formatNumber(capture.events_total)}</Table.Td>
                    <Table.Td>{formatNumber(capture.viewers)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {isAdmin && (
            <>
              <Title order={3} mt="lg" mb="xs">{t("hub.recentActivity")}</Title>
              <ErrorNote error={audit.error} />
              <Table>
                <Table.Tbody>
                  {audit.data?.items.map((entry) => (
                    <Table.Tr key={entry.id}>
                      <Table.Td>{formatDateTime(entry.at)}</Table.Td>
                      <Table.Td>{entry.actor}</Table.Td>
                      <Table.Td><Badge variant="outline">{entry.action}</Badge></Table.Td>
                      <Table.Td>{entry.target}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </>
          )}
        </section>
      </SimpleGrid>
    </>
  );
}
