"""A celery app for the graceful-stop tests: one slow task that leaves a
trace when it starts and when it finishes. The broker comes from BROKER."""

import os
import time

from celery import Celery

app = Celery("tasks", broker=os.environ["BROKER"])
app.conf.broker_connection_retry_on_startup = True
# Beat keeps its schedule file beside the test's files, not in the cwd.
app.conf.beat_schedule = {
    "tick": {"task": "tasks.tick", "schedule": 1.0},
}


@app.task
def slow(path, seconds):
    with open(path + ".started", "w") as f:
        f.write("started\n")
    time.sleep(seconds)
    with open(path, "w") as f:
        f.write("finished\n")


@app.task
def tick():
    pass
