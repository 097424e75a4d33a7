"""A slow data migration (3 s), as real ones are: replicas that migrate at
the same time collide here unless preflight's --lock serialises them."""
import time

from django.db import migrations


def slow(apps, schema_editor):
    time.sleep(3)


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunPython(slow, migrations.RunPython.noop)]
