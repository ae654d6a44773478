"""Usernames are never email addresses: an account whose username has an @ (until now, registration made every
username the account's email) gets the part before the @, made unique (ann, ann-2, ...). Logins by email are
unchanged; only the name shown as `owner` changes. Shares addressed with an @ match emails only from now on, so
a username that looked like someone else's email can no longer capture what was meant for them."""
import re

from django.conf import settings
from django.db import migrations


def rename(apps, schema_editor):
    app_label, model_name = settings.AUTH_USER_MODEL.split(".")
    User = apps.get_model(app_label, model_name)
    taken = {name.lower() for name in User.objects.values_list("username", flat=True)}
    for user in User.objects.filter(username__contains="@").order_by("id"):
        base = re.sub(r"[^A-Za-z0-9._-]", "", user.username.split("@", 1)[0])[:140] or "user"
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.discard(user.username.lower())
        taken.add(candidate.lower())
        user.username = candidate
        user.save(update_fields=["username"])


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0003_record_result_files"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
