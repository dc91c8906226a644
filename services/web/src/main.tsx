import "@mantine/core/styles.css";
import "uplot/dist/uPlot.min.css";
import { Anchor, type CSSVariablesResolver, createTheme, MantineProvider } from "@mantine/core";
import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiError } from "./api/errors";
import { App } from "./App";
import "./i18n";
import { ME_KEY } from "./shell/auth";

// Mantine's defaults fall short of WCAG AA contrast in places (dimmed text, light badges, links);
// the darker shades and underlined links keep every page readable (axe-core checks it in the e2e test).
const theme = createTheme({
  primaryShade: 9,
  components: { Anchor: Anchor.extend({ defaultProps: { underline: "always" } }) },
});
const cssVariables: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)", "--mantine-color-placeholder": "var(--mantine-color-gray-7)" },
  dark: {},
});

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({
    // A refused or expired session anywhere sends the user back to sign-in.
    onError: (error, query) => {
      if (error instanceof ApiError && error.status === 401 && query.queryKey !== ME_KEY) {
        queryClient.setQueryData(ME_KEY, null);
      }
    },
  }),
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider defaultColorScheme="light" theme={theme} cssVariablesResolver={cssVariables}>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
