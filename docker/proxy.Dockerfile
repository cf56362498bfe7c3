# exosphere/proxy:<version>: nginx standing in for the AWS load balancers in `exo deploy --rehearse`.
# exo mounts the listener rules it derives from the deployment at /etc/exosphere/sites.
#   docker build -f docker/proxy.Dockerfile -t exosphere/proxy:0.1.0 .
FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man \
 && useradd --system --uid 10001 --home /nonexistent balancer \
 && mkdir -p /etc/exosphere/sites
COPY docker/healthcheck /usr/local/bin/healthcheck
COPY docker/proxy/nginx.conf /etc/exosphere/nginx.conf
COPY docker/proxy/proxy-start /usr/local/bin/proxy-start
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 CMD ["healthcheck", "/.exosphere/health"]
USER balancer
STOPSIGNAL SIGTERM
CMD ["proxy-start"]
