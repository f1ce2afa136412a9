"""Creates the demo user `demo` / `demo-password`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import migrations


def create_demo_user(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("auth", "User")
    User.objects.get_or_create(
        username="demo",
        defaults={
            "email": "demo@example.com",
            "first_name": "Demo",
            "last_name": "Hedgehog",
            "password": make_password("demo-password"),
        },
    )


class Migration(migrations.Migration):
    dependencies = (("auth", "0012_alter_user_first_name_max_length"),)
    operations = (migrations.RunPython(create_demo_user, migrations.RunPython.noop),)
