# One static `ferrolb` binary in a minimal image; every role (controller, speaker, ...) is a
# subcommand. Build: docker build -t ghcr.io/ferrolb/ferrolb:0.1.0 .
#
# Stage 1: a fully static binary (musl). kube uses rustls + ring, so no OpenSSL is needed.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY tests tests
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p ferrolb \
    && cp target/x86_64-unknown-linux-musl/release/ferrolb /ferrolb \
    && strip /ferrolb

# Stage 2: nothing but the binary. The default user is non-root (65532); the speaker's manifest
# also runs it as 65532: TCP MD5, TTL and GTSM socket options need no capability, and the speaker
# only connects out to port 179 (it does not listen), so it needs no NET_BIND_SERVICE.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /ferrolb /usr/local/bin/ferrolb
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferrolb"]
