# exosphere/sdk:<version>: Debian 12 with the C++ toolchain, the Exosphere SDK and the exocom binary
# installed, and Node.js with npm and the JavaScript client (/exosphere/clients/js): the build stage
# of every service's production image and of exosphere/exocom.
#   docker build -f docker/sdk.Dockerfile -t exosphere/sdk:0.1.0 .
FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ make pkg-config ca-certificates nodejs npm \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libyaml-cpp-dev libcli11-dev libfmt-dev libkainjow-mustache-dev \
      libsqlite3-dev libpq-dev libmongoc-dev libsodium-dev libnats-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /exosphere
# One build for the SDK and ExoCom, so exosphere/exocom compiles nothing of its own.
RUN cmake -S /exosphere -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEXO_BUILD_TESTS=OFF -DEXO_BUILD_BENCH=OFF \
 && cmake --build /tmp/build --target exosphere exosphere_store exocom \
 && cmake --install /tmp/build --component sdk \
 && install -s /tmp/build/src/exocom/exocom /usr/local/bin/exocom \
 && ldconfig && rm -rf /tmp/build
