import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0012_task_enqueued_at_filled")]

    operations = [
        migrations.AlterField(model_name="task", name="enqueued_at",
                              field=models.DateTimeField(default=django.utils.timezone.now)),
    ]
