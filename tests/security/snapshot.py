"""Everything a write could change, read as the superuser, so "0 writes" is a comparison of two values.

Rows (count and checksum of every table), sequences, roles and their passwords, memberships and
per-role settings, server settings (including ALTER SYSTEM's file), relations, triggers, functions,
schemas, privileges and large objects. The explorer's own audit rows and its transient grants are
left out: the service writes those by design for every query.
"""

from __future__ import annotations

from typing import Any

import psycopg

# Written by the platform itself while the attacks run; everything else must stay identical:
# the explorer audits every query (the audit chain's head and seals move with it) and grants each one,
# and the profiles service folds stored events into subjects (raising watchlist alerts) in the background.
TABLE_FILTERS = {
    "public.audit_log": "WHERE action <> 'database.query'",
    "public.audit_chain_head": "WHERE false",
    "public.audit_seals": "WHERE false",
    "public.explorer_grants": "WHERE false",
    "public.subjects": "WHERE false",
    "public.subject_aliases": "WHERE false",
    "public.subject_lives": "WHERE false",
    "public.subject_enrichment": "WHERE false",
    "public.alerts": "WHERE false",
}
SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"

CATALOG_QUERIES = {
    # The audit log's ids advance once per explorer query: counted net of those rows.
    "sequences": """SELECT schemaname, sequencename, CASE WHEN sequencename = 'audit_log_id_seq'
                           THEN coalesce(last_value, 0)
                                - (SELECT count(*) FROM audit_log WHERE action = 'database.query')
                           ELSE last_value END
                    FROM pg_sequences ORDER BY 1, 2""",
    "roles": """SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                       rolbypassrls, md5(coalesce(rolpassword, '')), rolvaliduntil, rolconnlimit
                FROM pg_authid ORDER BY rolname""",
    "memberships": """SELECT roleid::regrole::text, member::regrole::text, admin_option, inherit_option, set_option
                      FROM pg_auth_members ORDER BY 1, 2""",
    "role_settings": "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting ORDER BY 1, 2",
    "settings": "SELECT name, setting FROM pg_settings ORDER BY name",
    "settings_files": "SELECT name, setting, applied FROM pg_file_settings ORDER BY name, seqno",
    "schemas": "SELECT nspname, nspacl::text FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' "
    "AND nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1",
    "relations": f"""SELECT n.nspname, c.relname, c.relkind, c.relacl::text FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_temp%'
                       AND n.nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1, 2""",
    "triggers": "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger ORDER BY 1, 2",
    "functions": f"""SELECT p.oid::regprocedure::text, p.proacl::text FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname NOT IN {SYSTEM_SCHEMAS} OR p.proacl IS NOT NULL ORDER BY 1""",
    "large_objects": "SELECT count(*) FROM pg_largeobject_metadata",
    "databases": "SELECT datname, datacl::text FROM pg_database ORDER BY 1",
    "default_privileges": "SELECT defaclrole::regrole::text, defaclnamespace, defaclobjtype, defaclacl::text "
    "FROM pg_default_acl ORDER BY 1, 2, 3",
}


def snapshot(superuser_url: str) -> dict[str, Any]:
    """Everything above, from a fresh superuser session (so session settings are the server's)."""
    state: dict[str, Any] = {}
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for name, query in CATALOG_QUERIES.items():
            state[name] = conn.execute(query).fetchall()  # type: ignore[arg-type]
        tables = conn.execute(
            f"""SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {SYSTEM_SCHEMAS}
                  AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1"""  # type: ignore[arg-type]
        ).fetchall()
        for (table,) in tables:
            where = TABLE_FILTERS.get(table, "")
            state[f"rows of {table}"] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t {where}"  # type: ignore[arg-type]
            ).fetchone()
    return state


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed, by name, with the entries that differ: empty when nothing did."""
    changed: dict[str, Any] = {}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            changed[name] = {"gone": [r for r in old if r not in new], "new": [r for r in new if r not in old]}
        else:
            changed[name] = {"before": old, "after": new}
    return changed
