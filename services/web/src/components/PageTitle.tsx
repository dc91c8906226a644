import { Group, Title } from "@mantine/core";
import type { ReactNode } from "react";
import { useEffect } from "react";

export function PageTitle({ children, actions }: { children: string; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${children} · SCIS`;
  }, [children]);
  return (
    <Group justify="space-between" mb="md">
      <Title order={2}>{children}</Title>
      {actions}
    </Group>
  );
}
