"""The audit table is append-only in the database, not only in Python.

(The table and function names predate the audit app and are kept: the grants
in docs/audit.md name them.)

PostgreSQL: a row trigger rejects UPDATE and DELETE, a statement trigger
rejects TRUNCATE. SQLite (the demo default): RAISE(ABORT) triggers reject
UPDATE and DELETE (SQLite has no TRUNCATE; DELETE without WHERE is covered).
"""

from django.db import migrations

TABLE = "requests_app_auditevent"

POSTGRES_UP = f"""
CREATE FUNCTION requests_app_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION requests_app_audit_append_only();
CREATE TRIGGER auditevent_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION requests_app_audit_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS auditevent_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS auditevent_no_update_delete ON {TABLE};
DROP FUNCTION IF EXISTS requests_app_audit_append_only();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END;""",
    f"""CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS auditevent_no_update;",
    "DROP TRIGGER IF EXISTS auditevent_no_delete;",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # A raw cursor: the plpgsql body contains a literal '%'.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"No append-only triggers for database vendor {vendor!r}")


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
