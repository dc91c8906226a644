// Typed clients, one per service, generated from their OpenAPI documents (src/api/schema/, `make web-api`).
// The browser signs in with the HttpOnly cookie the dashboard sets, so requests carry no token here.
import createClient from "openapi-fetch";
import type { components as AnalyserComponents, paths as AnalyserPaths } from "./schema/analyser";
import type { components as DashboardComponents, paths as DashboardPaths } from "./schema/dashboard";
import type { components as DatabaseComponents, paths as DatabasePaths } from "./schema/database";
import type { components as ReportsComponents, paths as ReportsPaths } from "./schema/reports";
import type { components as ProfilesComponents, paths as ProfilesPaths } from "./schema/profiles";
import type { paths as CreatePaths } from "./schema/create";
import type { components as LivesComponents, paths as LivesPaths } from "./schema/lives";

const options = { baseUrl: "", credentials: "same-origin" as const };

export const dashboard = createClient<DashboardPaths>(options);
export const analyser = createClient<AnalyserPaths>(options);
export const database = createClient<DatabasePaths>(options);
export const reports = createClient<ReportsPaths>(options);
export const profiles = createClient<ProfilesPaths>(options);
export const create = createClient<CreatePaths>(options);
export const lives = createClient<LivesPaths>(options);

type Dashboard = DashboardComponents["schemas"];
type Analyser = AnalyserComponents["schemas"];
export type CaseRead = Dashboard["CaseRead"];
export type Overview = Dashboard["Overview"];
export type AuditEntry = Dashboard["AuditEntry"];
export type UserRead = Dashboard["UserRead"];
export type MonitorRead = Analyser["MonitorRead"];
export type EventRead = Analyser["EventRead"];
export type VerifyResult = Analyser["VerifyResult"];
export type GapRead = Analyser["GapRead"];
export type LiveSessionRead = Analyser["LiveSessionRead"];
export type QueryResult = DatabaseComponents["schemas"]["QueryResult"];
export type TableInfo = DatabaseComponents["schemas"]["TableInfo"];
export type ReportRead = ReportsComponents["schemas"]["ReportRead"];
export type ReportJobRead = ReportsComponents["schemas"]["ReportJobRead"];
export type HistoryEntry = DatabaseComponents["schemas"]["HistoryEntry"];
export type SavedQuery = DatabaseComponents["schemas"]["SavedQuery"];
export type ProfileRead = ProfilesComponents["schemas"]["ProfileRead"];
export type AlertRead = ProfilesComponents["schemas"]["AlertRead"];
export type EventHit = ProfilesComponents["schemas"]["EventHit"];
export type LiveVideoRead = LivesComponents["schemas"]["LiveVideoRead"];
