"""Tasks record their result's files (analytics_app's Result); finished tasks stored before are looked up once.

An ingest's result is its dataset's table: its folder becomes the ingest task's result folder."""
from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def record_files(apps, schema_editor):
    from analytics_app.engine.results import files_found_in

    Task = apps.get_model("csv_app", "Task")
    root = Path(settings.MEDIA_ROOT)
    for task in Task.objects.filter(status="SUCCESS").select_related("dataset").iterator():
        if task.operation == "ingest" and task.dataset.parquet_file:
            task.result_dir = str(Path(task.dataset.parquet_file).parent)
            task.result_kind = "table"
        if not task.result_dir:
            continue
        task.result_files = files_found_in(root / task.result_dir, task.result_kind)
        task.save(update_fields=["result_dir", "result_kind", "result_files"])


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0001_initial")]

    operations = [
        migrations.AddField(model_name="task", name="result_files", field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(model_name="task", name="result_kind",
                              field=models.CharField(blank=True, default="", max_length=16)),
        migrations.RunPython(record_files, migrations.RunPython.noop),
    ]
