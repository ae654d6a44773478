"""Every task gets an enqueue time: tasks queued before it was recorded for every job (an upload's ingest had
none; the sweep counted those from their creation) take their creation time."""
from django.db import migrations
from django.db.models import F


def fill(apps, schema_editor):
    Task = apps.get_model("csv_app", "Task")
    Task.objects.filter(enqueued_at=None).update(enqueued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0011_dataset_profile_queue")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
