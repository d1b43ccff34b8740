import json
from pathlib import Path

from django.db import migrations, models

DATA = Path(__file__).resolve().parent.parent / "data" / "holidays_cn.json"


def load_holidays(apps, schema_editor):
    CalendarDay = apps.get_model("core", "CalendarDay")
    days = json.loads(DATA.read_text(encoding="utf-8"))["days"]
    CalendarDay.objects.bulk_create(
        [CalendarDay(date=date, is_workday=workday, name=name) for date, workday, name in days],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [
        migrations.CreateModel(
            name="CalendarDay",
            fields=[
                ("date", models.DateField(primary_key=True, serialize=False, verbose_name="date")),
                ("is_workday", models.BooleanField(verbose_name="working day")),
                ("name", models.CharField(max_length=40, verbose_name="name")),
            ],
            options={"verbose_name": "calendar day", "verbose_name_plural": "calendar days", "ordering": ["date"]},
        ),
        migrations.RunPython(load_holidays, migrations.RunPython.noop),
    ]
