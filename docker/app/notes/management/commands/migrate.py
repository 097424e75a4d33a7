"""Django's `migrate`, which also writes when it started and ended on this
host into the table `migrate_runs` (made here, outside the migrations), so
that one can see whether replicas ever migrated at the same time."""
import socket

from django.core.management.commands.migrate import Command as Migrate
from django.db import connection


class Command(Migrate):
    def handle(self, *args, **options):
        host = socket.gethostname()
        with connection.cursor() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS migrate_runs"
                " (host text, started timestamptz, ended timestamptz)"
            )
            c.execute(
                "INSERT INTO migrate_runs VALUES (%s, clock_timestamp(), NULL)", [host]
            )
        super().handle(*args, **options)
        with connection.cursor() as c:
            c.execute(
                "UPDATE migrate_runs SET ended = clock_timestamp()"
                " WHERE host = %s AND ended IS NULL",
                [host],
            )
