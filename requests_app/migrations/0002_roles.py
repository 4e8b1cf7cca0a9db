from django.db import migrations

ROLES = ["secretariat", "president", "referent", "director_general", "auditor"]

# Model-level permissions held through the group. Per-request access for
# referents is an object permission granted by the assignment service.
GROUP_PERMISSIONS = {
    "president": ["view_register", "view_content"],
    "director_general": ["view_register", "view_content"],
    "secretariat": ["view_register"],
}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(
        app_label="requests_app", model="disclosurerequest"
    )
    for name in ROLES:
        group, _ = Group.objects.get_or_create(name=name)
        for codename in GROUP_PERMISSIONS.get(name, []):
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=codename,
                defaults={"name": codename.replace("_", " ")},
            )
            group.permissions.add(permission)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0001_initial"),
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
