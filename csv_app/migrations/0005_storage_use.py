"""Quotas over every kept byte: each dataset and result records what its files take, and each user's total is kept
in StorageUse. Existing data is measured from disk once (a dataset's whole folder; a result's own files, not those
it shares with its dataset by a hard link), as csv_app/services/quota.py measures new files."""
import os
from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _bytes(folder: Path, own_only: bool) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                info = os.stat(os.path.join(root, name))
            except OSError:
                continue
            if not own_only or info.st_nlink == 1:
                total += info.st_size
    return total


def measure(apps, schema_editor):
    Dataset = apps.get_model("csv_app", "Dataset")
    Task = apps.get_model("csv_app", "Task")
    StorageUse = apps.get_model("csv_app", "StorageUse")
    used: dict = {}
    for dataset in Dataset.objects.only("id", "owner_id"):
        n = _bytes(Path(settings.UPLOADS_DIR) / str(dataset.id), own_only=False)
        Dataset.objects.filter(id=dataset.id).update(stored_bytes=n)
        used[dataset.owner_id] = used.get(dataset.owner_id, 0) + n
    for task in Task.objects.only("id", "owner_id"):
        n = _bytes(Path(settings.RESULTS_DIR) / str(task.id), own_only=True)
        Task.objects.filter(id=task.id).update(stored_bytes=n)
        used[task.owner_id] = used.get(task.owner_id, 0) + n
    for user_id, n in used.items():
        StorageUse.objects.update_or_create(user_id=user_id, defaults={"used_bytes": n})


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('csv_app', '0004_usernames_without_at'),
    ]

    operations = [
        migrations.CreateModel(
            name='StorageUse',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='storage_use', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('used_bytes', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name='dataset',
            name='stored_bytes',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='task',
            name='stored_bytes',
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(measure, migrations.RunPython.noop),
    ]
