# exosphere/runtime:<version>: a slim Debian 12 with the libraries C++ services load at run time,
# the run stage of every C++ service's production image.
#   docker build -f docker/runtime.Dockerfile --build-arg VERSION=0.1.0 -t exosphere/runtime:0.1.0 .
ARG VERSION=0.1.0
FROM exosphere/sdk:${VERSION} AS sdk

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libyaml-cpp0.7 libfmt9 \
      libsqlite3-0 libpq5 libmongoc-1.0-0 libsodium23 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=sdk /usr/local/lib/libexosphere* /usr/local/lib/
RUN ldconfig && useradd --system --home /service service && mkdir -p /data && chown service /data
# The store services keep their SQLite files here unless POSTGRES_URL or MONGODB_URL is set.
ENV EXOSPHERE_DATA_DIR=/data
USER service
WORKDIR /service
