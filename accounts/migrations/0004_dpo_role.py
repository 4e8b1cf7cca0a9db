from django.db import migrations


def create_dpo_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="dpo")


def remove_dpo_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="dpo").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_acting_designation_decisions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_dpo_group, remove_dpo_group)]
