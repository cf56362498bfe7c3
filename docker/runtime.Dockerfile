# exosphere/runtime:<version>: Debian 12 (minbase) with only the shared libraries C++ services and
# ExoCom load at run time, and an unprivileged user: the run stage of every C++ production image.
#   docker build -f docker/runtime.Dockerfile --build-arg VERSION=0.1.0 -t exosphere/runtime:0.1.0 .
ARG VERSION=0.1.0
FROM exosphere/sdk:${VERSION} AS sdk

FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libyaml-cpp0.7 libfmt9 \
      libsqlite3-0 libpq5 libmongoc-1.0-0 libsodium23 libnats3.4 ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
COPY --from=sdk /usr/local/lib/libexosphere* /usr/local/lib/
COPY docker/healthcheck /usr/local/bin/healthcheck
RUN ldconfig && useradd --system --uid 10001 --home /service service && mkdir -p /data /service && chown service /data /service
# The store services keep their SQLite files here unless POSTGRES_URL or MONGODB_URL is set.
ENV EXOSPHERE_DATA_DIR=/data
# A service is healthy while it is registered with ExoCom (the SDK keeps this file meanwhile). Its
# pages may still answer 503 while services it needs are away: that is the load balancer's check.
ENV EXOSPHERE_ONLINE_FILE=/tmp/exosphere-online
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 CMD ["healthcheck", "--online"]
USER service
WORKDIR /service
STOPSIGNAL SIGTERM
