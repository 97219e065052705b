# fila: fila-scheduler, fila-worker and the fila CLI in one image.
#   docker build -t fila:0.1.0 .
# `--target prebuilt` takes the binaries already built in build/bin/ instead
# of compiling them (scripts/image build does, with buildah, for its test;
# BuildKit and buildah then skip the build stage, and skip prebuilt for the
# default target; Docker's legacy builder, DOCKER_BUILDKIT=0, would not).
# The Helm chart (helm/fila) runs each daemon from it with its own command.
# tests/helm/check-runtime-image checks, without a Docker engine, that the
# runtime stage copies the binaries (fila-extract and fila-exec-shim next to
# fila-worker) and
# installs the package of every shared library they load, and that the
# build stage installs the -dev packages of scripts/install-deps.

# Build stage: compilers and the -dev packages of scripts/install-deps.
FROM debian:12-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build lld pkg-config \
      librabbitmq-dev libpqxx-dev libcpprest-dev libprotobuf-dev protobuf-compiler \
      prometheus-cpp-dev \
      libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libcli11-dev \
      libpugixml-dev libxml2-dev libyaml-cpp-dev libprotoc-dev libpoppler-cpp-dev libzip-dev libgumbo-dev libcctz-dev libssl-dev \
      libxmlsec1-dev libxmlsec1-openssl xmlsec1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && cmake --build /build --target fila-scheduler fila-worker fila-extract fila-exec-shim fila \
 && strip --strip-debug /build/bin/fila-scheduler /build/bin/fila-worker /build/bin/fila-extract \
      /build/bin/fila-exec-shim /build/bin/fila

# Runtime stage: only the shared libraries (and what they depend on), the
# binaries and a non-root user. fila-worker runs fila-extract (one process
# per HTML or PDF document) and fila-exec-shim (static; one per exec task)
# from its own folder.
FROM debian:12-slim AS runtime-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates tzdata \
      libc6 libgcc-s1 libstdc++6 \
      libcctz2 libcivetweb1 libcpprest2.10 libcurl4 libfmt9 libgumbo1 libpoppler-cpp0v5 \
      libpq5 libpqxx-6.4 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprotobuf32 \
      libprotoc32 libpugixml1v5 librabbitmq4 libspdlog1.10 libssl3 libxml2 libxmlsec1 libxmlsec1-openssl \
      libyaml-cpp0.7 libzip4 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 fila \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin fila
# Numeric, so that Kubernetes' runAsNonRoot can verify it. (COPY below
# still writes the binaries as root.)
USER 10001:10001
WORKDIR /tmp
# Metrics, /healthz, /readyz (FILA_METRICS_LISTEN) and the scheduler's API
# (FILA_API_LISTEN); both default to loopback, the chart sets 0.0.0.0.
EXPOSE 9090 8080
CMD ["fila", "--help"]

# The same image from the binaries of an earlier build of this tree
# (build/bin/, stripped like the build stage's): --target prebuilt.
FROM runtime-base AS prebuilt
COPY build/bin/fila-scheduler build/bin/fila-worker build/bin/fila-extract build/bin/fila-exec-shim \
     build/bin/fila \
     /usr/local/bin/

# The default target: the binaries of the build stage.
FROM runtime-base AS runtime
COPY --from=build /build/bin/fila-scheduler /build/bin/fila-worker /build/bin/fila-extract /build/bin/fila-exec-shim \
     /build/bin/fila \
     /usr/local/bin/
