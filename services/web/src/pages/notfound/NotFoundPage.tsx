import { Anchor, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { PageTitle } from "../../components/PageTitle";

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageTitle>{t("notFound.title")}</PageTitle>
      <Text>
        {t("notFound.text")} <Anchor component={Link} to="/">{t("nav.hub")}</Anchor>
      </Text>
    </>
  );
}
