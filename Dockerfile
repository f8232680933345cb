# One image for both processes: `s3gw serve` (gateway) and `s3gw node` (storage node).
#   docker build -t s3gw/s3gw:dev .
FROM python:3.11-slim
WORKDIR /src
# the production dependencies at the versions of the lock (scripts/lock.sh makes it from pyproject.toml),
# then s3gw itself without resolving anything again
COPY requirements/production.lock ./requirements/
RUN pip install --no-cache-dir -r requirements/production.lock
COPY pyproject.toml README.md ./
COPY s3gw ./s3gw
COPY nodes ./nodes
RUN pip install --no-cache-dir --no-deps . && rm -rf /src
RUN useradd --system --uid 10001 --home /var/lib/s3gw s3gw && mkdir -p /data && chown s3gw /data
USER s3gw
WORKDIR /var/lib/s3gw
EXPOSE 8080 8443 9090
ENTRYPOINT ["s3gw"]
CMD ["--help"]
