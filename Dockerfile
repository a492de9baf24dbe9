# One image for every recarga process (config job, brokers, servers, dashboards); compose.yaml picks the command.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The project itself, so its packages and commands (recarga, recarga-events, …) work from any folder.
RUN pip install --no-cache-dir --no-deps -e .
ENV PYTHONUNBUFFERED=1
