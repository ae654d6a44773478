from django.db import migrations, models


def mark_profiled(apps, schema_editor):
    """Datasets profiled during their ingest (before profiles became a follow-up job): their ingest task's result
    recorded the profile."""
    Dataset, Task = apps.get_model("csv_app", "Dataset"), apps.get_model("csv_app", "Task")
    ids = [dataset_id for dataset_id, files in Task.objects.filter(operation="ingest", status="SUCCESS")
           .values_list("dataset_id", "result_files") if isinstance(files, dict) and "profile" in files]
    for start in range(0, len(ids), 500):
        Dataset.objects.filter(id__in=ids[start:start + 500]).update(profiled=True)


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0009_task_timings")]

    operations = [
        migrations.AddField(model_name="dataset", name="profiled", field=models.BooleanField(default=False)),
        migrations.RunPython(mark_profiled, migrations.RunPython.noop),
    ]
