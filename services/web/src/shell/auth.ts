import { useQuery, useQueryClient } from "@tanstack/react-query";
import { dashboard } from "../api/client";
import { ApiError, unwrap } from "../api/errors";

export type Role = "viewer" | "investigator" | "admin";
export interface Me {
  username: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, investigator: 1, admin: 2 };

export function allows(me: Me | null | undefined, needed: Role): boolean {
  return !!me && RANK[me.role] >= RANK[needed];
}

export const ME_KEY = ["me"] as const;

/** The signed-in user, or null when the cookie is missing or refused. */
async function fetchMe(): Promise<Me | null> {
  try {
    const me = await unwrap(dashboard.GET("/api/auth/me"));
    return { username: me.username, role: me.role as Role };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export function useMe() {
  return useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000 });
}

export function useSignOut() {
  const client = useQueryClient();
  return async () => {
    await dashboard.POST("/api/auth/logout");
    // The next sign-in starts from the hub, with nothing of this user's data left in the cache.
    window.history.replaceState(null, "", "/");
    client.setQueryData(ME_KEY, null);
    client.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
  };
}
