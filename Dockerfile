# One static `ferrolb` binary in a minimal image; every role (controller, speaker, ...) is a
# subcommand. Build: docker build -t ghcr.io/ferrolb/ferrolb:0.1.0 .
#
# Stage 1: one fully static, non-PIE binary built by scripts/build-dist.sh (glibc linked in,
# `dist` profile: size-optimised, fat LTO). This is the binary the speaker benchmark measures.
# kube uses rustls + ring, so no OpenSSL is needed. Without glibc's NSS libraries in the image
# a static glibc binary cannot resolve host names; nothing in-cluster needs that: the API server
# is reached at KUBERNETES_SERVICE_HOST and BGP peers are IP addresses.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY tests tests
COPY scripts scripts
RUN cp "$(scripts/build-dist.sh)" /ferrolb

# Stage 2: nothing but the binary, without file capabilities. The default user is non-root
# (65532): the controller runs as it with no capability. The speaker's manifest sets uid 0 with
# every capability dropped but NET_ADMIN and NET_RAW (uplink manager, doctor's conntrack read):
# a non-root user would keep none of them at exec, Kubernetes setting no ambient capabilities.
# Why not setcap here: docs/manifests.md "Privileges". TCP MD5, TTL and GTSM need no capability,
# and the speaker only connects out to port 179, so it needs no NET_BIND_SERVICE.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /ferrolb /usr/local/bin/ferrolb
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferrolb"]
