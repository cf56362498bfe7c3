# exosphere/node:<version>: Debian 12 (minbase) with Debian's Node.js and an unprivileged user: the
# run stage of JavaScript services' production images (their dependencies are installed in
# exosphere/sdk, which carries the JavaScript client).
#   docker build -f docker/node.Dockerfile -t exosphere/node:0.1.0 .
FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
COPY docker/healthcheck /usr/local/bin/healthcheck
RUN useradd --system --uid 10001 --home /service service && mkdir -p /data /service && chown service /data
ENV EXOSPHERE_DATA_DIR=/data
# A service is healthy while it is registered with ExoCom (the client keeps this file meanwhile).
ENV EXOSPHERE_ONLINE_FILE=/tmp/exosphere-online
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 CMD ["healthcheck", "--online"]
USER service
WORKDIR /service
STOPSIGNAL SIGTERM
