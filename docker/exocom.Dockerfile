# exosphere/exocom:<version>: the message bus, as `exo deploy` and docker compose run it.
#   docker build -f docker/exocom.Dockerfile -t exosphere/exocom:0.1.0 .
ARG VERSION=0.1.0
FROM exosphere/sdk:${VERSION} AS build
RUN cmake -S /exosphere -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEXO_BUILD_TESTS=OFF -DEXO_BUILD_BENCH=OFF \
 && cmake --build /tmp/build --target exocom && cp /tmp/build/src/exocom/exocom /usr/local/bin/exocom

FROM exosphere/runtime:${VERSION}
COPY --from=build /usr/local/bin/exocom /usr/local/bin/exocom
# Port 80 is privileged; ExoCom holds no data and runs alone in its container.
USER root
ENV PORT=80
EXPOSE 80
CMD ["exocom"]
