"""The person's own access requests get a rule of their own (docs/retention.md)."""

from typing import Any

from django.db import migrations, models


def seed(apps: Any, schema_editor: Any) -> None:
    RetentionRule = apps.get_model("dpo", "RetentionRule")
    RetentionRule.objects.get_or_create(outcome="access_answered", defaults={"years": 5})


class Migration(migrations.Migration):
    dependencies = [
        ("dpo", "0002_default_retention_schedule"),
    ]

    operations = [
        migrations.AlterField(
            model_name="retentionrule",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("disclosed", "Disclosed"),
                    ("disclosed_in_part", "Disclosed in part"),
                    ("refused", "Refused"),
                    ("inadmissible", "Inadmissible"),
                    ("oral", "Oral request, not processed"),
                    ("withdrawn", "Withdrawn"),
                    ("annulled", "Annulled"),
                    ("access_answered", "Access request answered"),
                ],
                max_length=32,
                unique=True,
                verbose_name="outcome",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
