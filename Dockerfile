# Dockerfile - the millrace image: one image for the coordinator and the
# executors (the first argument picks which; see docker/entrypoint.sh).
#
# Two stages. "build" installs the -dev packages and compiles the three
# programs with CMake; the final stage holds only the shared libraries they
# link at run time, the stripped programs and the entrypoint, and runs as the
# unprivileged user "millrace" (uid 10001).
#
# Layer order keeps rebuilds quick: packages first (they change rarely), then
# the sources, so editing code only reruns the compile. The sources are the
# whole build context less what .dockerignore leaves out (build folders,
# data, tests, docs but docs/openapi.json, DAGs, scripts), so a new source
# folder or a file CMakeLists.txt reads needs no change here.
#
# Both stages start FROM debian:bookworm-slim. With registry access that is
# the official image; without, docker/build-base-image.sh builds one locally
# under the same name.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      cmake pkg-config make gcc libc6-dev \
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev libzstd-dev \
      libsnappy-dev zlib1g-dev \
      libsqlite3-dev libpq-dev libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev \
      libpcre2-dev libyajl-dev libutf8proc-dev nettle-dev libxml2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMR_SANITIZE=OFF >/dev/null \
 && cmake --build build -j"$(nproc)" --target millrace-coordinator millrace-executor millrace \
 && mkdir -p /out \
 && for p in millrace-coordinator millrace-executor millrace; do \
      strip -o "/out/$p" "build/$p"; \
    done

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libzmq5 libprotobuf-c1 libyaml-0-2 libzstd1 libsnappy1v5 zlib1g libsqlite3-0 libpq5 \
      libmicrohttpd12 libcjson1 libcurl4 libpcre2-8-0 libyajl2 libutf8proc2 libnettle8 libxml2 \
      tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 millrace \
 && useradd --system --uid 10001 --gid millrace --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin millrace \
 && mkdir -p /data/dags /data/data /keys \
 && chown millrace:millrace /data /keys \
 && chmod 700 /keys
COPY --from=build /out/ /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/millrace-entrypoint
# Fail at build time, not at start, if a run-time library is missing.
RUN ! ldd /usr/local/bin/millrace-coordinator /usr/local/bin/millrace-executor \
      /usr/local/bin/millrace | grep 'not found'
USER millrace
WORKDIR /data
# /keys: the CURVE key folder (a volume; a new one takes this owner and mode).
# 8080: REST API (coordinator); 7070: control (coordinator); 7071: shuffle (executor)
EXPOSE 8080 7070 7071
ENTRYPOINT ["millrace-entrypoint"]
CMD ["coordinator"]
