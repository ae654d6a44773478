from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("csv_app", "0010_dataset_profiled")]

    operations = [
        migrations.AddField(model_name="dataset", name="profile_queued_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="dataset", name="profile_attempts",
                            field=models.PositiveSmallIntegerField(default=0)),
    ]
