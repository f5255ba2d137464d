# syntax=docker/dockerfile:1.7
# vastgate: build with the Rust image, run from Debian slim as a non-root user.
#   docker build -t vastgate .
#   docker run -p 50051:50051 -p 9090:9090 vastgate
# tests/integration/image.rs runs this file's run commands (ENV, CMD, HEALTHCHECK) against the
# built binary outside a container; see README "Operating vastgate".

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the manifest, the lock
# file, the protos or the benchmark list change, not on every source edit.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY benches benches
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY src src
# Touch the sources so cargo rebuilds the crate over the stub's artifacts.
RUN touch src/lib.rs src/main.rs \
 && cargo build --release --locked \
 && cp target/release/vastgate /usr/local/bin/vastgate

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="vastgate" \
      org.opencontainers.image.description="gRPC analytics gateway in front of VAST DB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# TLS roots are compiled into the binary (webpki-roots), so no ca-certificates package.
# The data folder exists in the image, owned by the user, so a volume mounted there is writable.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/vastgate --create-home vastgate \
 && install -d -o vastgate -g vastgate /var/lib/vastgate/data
COPY --from=build /usr/local/bin/vastgate /usr/local/bin/vastgate
COPY deploy/vastgate.example.toml /etc/vastgate/vastgate.toml
USER 10001:10001
WORKDIR /var/lib/vastgate
ENV VASTGATE__SERVER__GRPC_LISTEN=0.0.0.0:50051 \
    VASTGATE__SERVER__HTTP_LISTEN=0.0.0.0:9090 \
    VASTGATE__TELEMETRY__LOG_FORMAT=json
EXPOSE 50051 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["vastgate", "probe", "--http", "127.0.0.1:9090", "--path", "/readyz"]
ENTRYPOINT ["vastgate"]
CMD ["serve", "--config", "/etc/vastgate/vastgate.toml", "--data", "/var/lib/vastgate/data", "--demo"]
