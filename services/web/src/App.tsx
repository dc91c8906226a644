import { Center, Loader } from "@mantine/core";
import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router-dom";
import { ErrorNote } from "./components/ErrorNote";
import { NotFoundPage } from "./pages/notfound/NotFoundPage";
import { SignInPage } from "./pages/signin/SignInPage";
import { routes } from "./routes";
import { allows, type Me, useMe } from "./shell/auth";
import { Layout } from "./shell/Layout";

function router(me: Me) {
  return createBrowserRouter([
    {
      element: <Layout me={me} />,
      children: [
        ...routes.map((route) => ({
          path: route.path,
          element:
            !route.role || allows(me, route.role) ? (
              <Suspense fallback={<Loader />}>{route.element}</Suspense>
            ) : (
              <Navigate to="/" replace />
            ),
        })),
        { path: "*", element: <NotFoundPage /> },
      ],
    },
  ]);
}

export function App() {
  const { t } = useTranslation();
  const me = useMe();
  if (me.isPending) {
    return (
      <Center h="100vh">
        <Loader aria-label={t("common.loading")} />
      </Center>
    );
  }
  if (me.isError) return <ErrorNote error={me.error} />;
  if (!me.data) return <SignInPage />;
  return <RouterProvider key={me.data.username} router={router(me.data)} />;
}
