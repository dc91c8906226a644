import { AppShell, Badge, Burger, Button, Group, NavLink, SegmentedControl, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation } from "react-router-dom";
import { LANGUAGES, type Language, setLanguage } from "../i18n";
import { routes } from "../routes";
import { allows, type Me, useSignOut } from "./auth";

export function LanguageSwitch({ username }: { username?: string }) {
  const { t, i18n } = useTranslation();
  return (
    <SegmentedControl
      size="xs"
      aria-label={t("shell.language")}
      value={i18n.language}
      onChange={(value) => void setLanguage(value as Language, username)}
      data={LANGUAGES.map((language) => ({ value: language, label: language.toUpperCase() }))}
    />
  );
}

export function Layout({ me }: { me: Me }) {
  const { t } = useTranslation();
  const [opened, { toggle }] = useDisclosure();
  const location = useLocation();
  const signOut = useSignOut();
  const entries = routes.filter((route) => route.nav && (!route.role || allows(me, route.role)));
  const active = (path: string) => (path === "/" ? location.pathname === "/" : location.pathname.startsWith(path));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 200, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("shell.menu")} />
            <Title order={1} size="h3">SCIS</Title>
            <Text size="sm" c="dimmed" visibleFrom="md">{t("shell.tagline")}</Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <LanguageSwitch username={me.username} />
            <Text size="sm" data-testid="current-user">{me.username}</Text>
            <Badge variant="light">{t(`roles.${me.role}`)}</Badge>
            <Button
              size="xs"
              variant="default"
              onClick={() => void signOut()}
            >
              {t("shell.signOut")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t("shell.navigation")}>
        {entries.map((route) => (
          <NavLink
            key={route.path}
            component={Link}
            to={route.path}
            label={t(route.nav!)}
            active={active(route.path)}
            aria-current={active(route.path) ? "page" : undefined}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
