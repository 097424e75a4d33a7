# An application image with preflight as its entrypoint: wait for what the
# deployment names (compose `command:`, Kubernetes `args:`), run the hooks,
# then run the program as PID 1.
#
#   docker build -t preflight -f docker/Dockerfile .
#   docker build -t myapp -f docker/app.Dockerfile path/to/your/app
#
# Not built in preflight's CI (no Docker engine there).

ARG PREFLIGHT_IMAGE=preflight
FROM ${PREFLIGHT_IMAGE} AS preflight

FROM python:3.12-slim
COPY --from=preflight /preflight /usr/local/bin/preflight
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# What the image always does; the deployment adds what to wait for.
ENV PREFLIGHT_COMMAND="gunicorn app.wsgi -b 0.0.0.0:8000"
ENV PREFLIGHT_HOOKS="python manage.py migrate --noinput; python manage.py collectstatic --noinput"
ENTRYPOINT ["preflight"]

# One try, no waiting: exit 0 when the app accepts connections.
HEALTHCHECK --interval=10s --timeout=3s CMD ["preflight", "check", "tcp://127.0.0.1:8000"]
