# syntax=docker/dockerfile:1
# Argus in a container. The build stage uses the project's own installer (cargo-leptos,
# wasm-bindgen, the npm wasm-opt) and release build; the runtime stage is Debian slim with the
# binary, its asset hashes and the site. Start it with docker-compose.yml, or:
#   docker build -t argus . && docker run -e DATABASE_URL=... -e ARGUS_JWT_SECRET=... -p 3000:3000 argus
# What was verified on the development machines (no container engine there): see README,
# "Packaging".

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CARGO_TARGET_DIR=/src/target/build
RUN scripts/install-tools.sh \
 && . scripts/env.sh \
 && cargo leptos build --release --split --precompress

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin argus
WORKDIR /app
# The binary finds its asset hashes beside it (hash.txt) and the site at LEPTOS_SITE_ROOT.
COPY --from=build /src/target/build/release/argus /app/argus
COPY --from=build /src/target/build/release/hash.txt /app/hash.txt
COPY --from=build /src/target/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site \
    ARGUS_ENV=production \
    ARGUS_LISTEN_ADDR=0.0.0.0:3000 \
    ARGUS_GRPC_LISTEN=0.0.0.0:4317 \
    ARGUS_LOG_FORMAT=json
USER argus
EXPOSE 3000 4317
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
    CMD curl -fsS http://127.0.0.1:3000/readyz || exit 1
ENTRYPOINT ["/app/argus"]
CMD ["serve"]
