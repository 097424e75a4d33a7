# The example app (docker/app, a minimal Django project) with preflight as its
# entrypoint: wait for what the deployment names (compose `command:`,
# Kubernetes `args:`), run the hooks, then run gunicorn under preflight as
# PID 1.
#
#   docker/build.sh
#   docker build -t preflight-example-web -f docker/app.Dockerfile docker/app
#
# The container tests build it as is, with a local Python image in place of
# python:3.12-slim (--build-arg PYTHON_IMAGE=...).

ARG PREFLIGHT_IMAGE=preflight
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PREFLIGHT_IMAGE} AS preflight

FROM ${PYTHON_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Last, so that a new preflight does not reinstall the requirements.
COPY --from=preflight /preflight /usr/local/bin/preflight

# What the image always does; the deployment adds what to wait for. With
# --lock, replicas run the hooks one at a time (a PostgreSQL advisory lock).
ENV PREFLIGHT_COMMAND="gunicorn app.wsgi -b 0.0.0.0:8000 -w 2" \
    PREFLIGHT_HOOKS="python manage.py migrate --noinput"
ENTRYPOINT ["preflight"]

# One try, no waiting: healthy when the app answers. The start period covers
# the wait and the migration (PREFLIGHT_TIMEOUT): Swarm replaces a task that
# turns unhealthy, and it would otherwise while preflight still waits.
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s \
    CMD ["preflight", "check", "http://127.0.0.1:8000/"]
