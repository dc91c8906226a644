import { Alert } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/errors";

/** An API or network failure in words: what went wrong, as the API said it. */
export function ErrorNote({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const message = error instanceof ApiError ? error.message : t("errors.network");
  const title = error instanceof ApiError ? t("errors.status", { status: error.status }) : t("errors.title");
  return (
    <Alert color="red" title={title} role="alert" my="sm">
      {message}
    </Alert>
  );
}
