"""A celery app for the graceful-stop tests: one slow task that leaves a
trace when it starts and when it finishes. The broker comes from BROKER."""

import os
import time

from celery import Celery

app = Celery("tasks", broker=os.environ["BROKER"])
app.conf.broker_connection_retry_on_startup = True
# Beat sends `tick` every 5 s (the first 5 s after it starts) and sleeps in
# between: the test's TERM comes in such a sleep.
app.conf.beat_schedule = {
    "tick": {"task": "tasks.tick", "schedule": 5.0},
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
