# exosphere/sdk:<version>: Debian 12 with the C++ toolchain and the Exosphere SDK installed, the
# build stage of every C++ service's production image.
#   docker build -f docker/sdk.Dockerfile -t exosphere/sdk:0.1.0 .
FROM debian:12 AS sdk
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ make pkg-config ca-certificates \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libyaml-cpp-dev libcli11-dev libfmt-dev libkainjow-mustache-dev \
      libsqlite3-dev libpq-dev libmongoc-dev libsodium-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /exosphere
RUN cmake -S /exosphere -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEXO_BUILD_TESTS=OFF -DEXO_BUILD_BENCH=OFF \
 && cmake --build /tmp/build --target exosphere exosphere_store \
 && cmake --install /tmp/build \
 && ldconfig && rm -rf /tmp/build
