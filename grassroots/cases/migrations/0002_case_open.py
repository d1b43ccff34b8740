"""A partial index on open cases, chosen from the query plans of the cockpit and the worklists
(docs/scaling.md, section 4): the open and overdue counts by place become index-only scans of the few
percent of cases still open instead of scans of the whole history."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_cases"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status__in", ["closed", "rejected", "merged"]), _negated=True),
                fields=["area", "deadline", "clock", "paused_at", "id"],
                name="case_open",
            ),
        ),
    ]
