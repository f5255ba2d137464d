# syntax=docker/dockerfile:1.7
# Multi-stage build: cached cargo registry and target dir; a slim non-root runtime image.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && cp target/release/vastgate /usr/local/bin/vastgate

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/vastgate --create-home vastgate
COPY --from=build /usr/local/bin/vastgate /usr/local/bin/vastgate
COPY deploy/vastgate.example.toml /etc/vastgate/vastgate.toml
USER vastgate
WORKDIR /var/lib/vastgate
ENV VASTGATE__SERVER__GRPC_LISTEN=0.0.0.0:50051 \
    VASTGATE__SERVER__HTTP_LISTEN=0.0.0.0:9090 \
    VASTGATE__TELEMETRY__LOG_FORMAT=json
EXPOSE 50051 9090
ENTRYPOINT ["vastgate"]
CMD ["serve", "--config", "/etc/vastgate/vastgate.toml", "--data", "/var/lib/vastgate/data", "--demo"]
