// Every page: one folder under src/pages/ and one entry here.
import { lazy, type ReactElement } from "react";
import type { Role } from "./shell/auth";
import { AccountsPage } from "./pages/accounts/AccountsPage";
import { AuditPage } from "./pages/audit/AuditPage";
import { CapturesPage } from "./pages/captures/CapturesPage";
import { CaseDetailPage } from "./pages/cases/CaseDetailPage";
import { CasesPage } from "./pages/cases/CasesPage";
import { HubPage } from "./pages/hub/HubPage";
import { LivePage } from "./pages/live/LivePage";
import { ReportsPage } from "./pages/reports/ReportsPage";
import { SessionPage } from "./pages/session/SessionPage";
import { ProfilePage } from "./pages/profiles/ProfilePage";
import { ProfilesPage } from "./pages/profiles/ProfilesPage";
import { WizardPage } from "./pages/profiles/WizardPage";
import { SearchPage } from "./pages/search/SearchPage";
import { WatchPage } from "./pages/watch/WatchPage";

// The SQL editor (CodeMirror) is the largest part of the app: loaded when the explorer is opened.
const ExplorerPage = lazy(() => import("./pages/explorer/ExplorerPage").then((module) => ({ default: module.ExplorerPage })));

export interface PageRoute {
  path: string;
  element: ReactElement;
  /** i18n key of its entry in the navigation; pages without one are reached from other pages. */
  nav?: string;
  /** The least role that sees the page (the API enforces the same). */
  role?: Role;
}

export const routes: PageRoute[] = [
  { path: "/", element: <HubPage />, nav: "nav.hub" },
  { path: "/cases", element: <CasesPage />, nav: "nav.cases" },
  { path: "/cases/:caseId", element: <CaseDetailPage /> },
  { path: "/captures", element: <CapturesPage />, nav: "nav.captures" },
  { path: "/live/:sessionId", element: <LivePage /> },
  { path: "/sessions/:sessionId", element: <SessionPage /> },
  { path: "/explorer", element: <ExplorerPage />, nav: "nav.explorer" },
  { path: "/reports", element: <ReportsPage />, nav: "nav.reports" },
  { path: "/profiles", element: <ProfilesPage />, nav: "profiles2.navProfiles" },
  { path: "/profiles/new", element: <WizardPage />, role: "investigator" },
  { path: "/profiles/:profileId", element: <ProfilePage /> },
  { path: "/search", element: <SearchPage />, nav: "profiles2.navSearch" },
  { path: "/watch", element: <WatchPage />, nav: "profiles2.navWatch" },
  { path: "/audit", element: <AuditPage />, nav: "nav.audit", role: "admin" },
  { path: "/accounts", element: <AccountsPage />, nav: "nav.accounts", role: "admin" },
];
