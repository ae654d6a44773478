"""Tasks record their result's files (analytics_app's Result)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0001_initial")]

    operations = [
        migrations.AddField(model_name="task", name="result_files", field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(model_name="task", name="result_kind",
                              field=models.CharField(blank=True, default="", max_length=16)),
    ]
