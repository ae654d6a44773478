"""Finished tasks stored before results recorded their files: the files are found by the names they had then.

An ingest's result is its dataset's table, so its dataset's folder becomes the ingest task's result folder.
Frozen here, as migrations are: the names below are those of that time, not a live import."""
from pathlib import Path

from django.conf import settings
from django.db import migrations

KNOWN = [("table", "result.parquet"), ("table", "data.parquet"), ("image", "chart.png"), ("profile", "profile.json")]


def files_then(folder: Path, kind: str) -> dict:
    found = {}
    if (folder / "selection.parquet").exists():
        found.update({"source": "source.parquet", "selection": "selection.parquet"})
    for part, name in KNOWN:
        if (folder / name).exists() and part not in found and not (part == "table" and "selection" in found):
            found[part] = name
    return {k: v for k, v in found.items() if k == "image"} if kind == "chart" else found


def record_files(apps, schema_editor):
    Task = apps.get_model("csv_app", "Task")
    root = Path(settings.MEDIA_ROOT)
    for task in Task.objects.filter(status="SUCCESS").select_related("dataset").iterator():
        if task.result_files:
            continue
        if task.operation == "ingest" and task.dataset.parquet_file:
            task.result_dir = str(Path(task.dataset.parquet_file).parent)
            task.result_kind = "table"
        if not task.result_dir:
            continue
        task.result_files = files_then(root / task.result_dir, task.result_kind)
        task.save(update_fields=["result_dir", "result_kind", "result_files"])


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0002_result_files")]

    operations = [migrations.RunPython(record_files, migrations.RunPython.noop)]
