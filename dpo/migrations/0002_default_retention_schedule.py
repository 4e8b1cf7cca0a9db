"""The default retention schedule (docs/retention.md), for the administrator
to check against the Archives de l'État's retention table and change."""

from typing import Any

from django.db import migrations

# Years kept after the request ended, per outcome: dpo.retention.DEFAULT_YEARS
# as shipped (copied, so that the migration never changes with the code).
DEFAULTS = {
    "disclosed": 10,
    "disclosed_in_part": 10,
    "refused": 10,
    "inadmissible": 10,
    "withdrawn": 5,
    "oral": 5,
    "annulled": 5,
}


def seed(apps: Any, schema_editor: Any) -> None:
    RetentionRule = apps.get_model("dpo", "RetentionRule")
    for outcome, years in DEFAULTS.items():
        RetentionRule.objects.get_or_create(outcome=outcome, defaults={"years": years})


class Migration(migrations.Migration):
    dependencies = [
        ("dpo", "0001_retention"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
