# exosphere/exocom:<version>: the message bus, as `exo deploy`, `exo run --docker` and the
# rehearsal run it.
#   docker build -f docker/exocom.Dockerfile -t exosphere/exocom:0.1.0 .
ARG VERSION=0.1.0
FROM exosphere/sdk:${VERSION} AS sdk

FROM exosphere/runtime:${VERSION}
COPY --from=sdk /usr/local/bin/exocom /usr/local/bin/exocom
# Port 80 as an unprivileged user: container engines open ports below 1024 to everyone inside
# the container's own network namespace (net.ipv4.ip_unprivileged_port_start=0).
ENV PORT=80
EXPOSE 80
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 CMD ["healthcheck", "/status"]
CMD ["exocom"]
