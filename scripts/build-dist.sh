#!/usr/bin/env bash
# Build the shipped `ferrolb` binary: one fully static, non-PIE executable (glibc linked in,
# no dynamic loader, no run-time relocations) with the size-optimised `dist` profile.
# Prints the path of the binary. Used by the Dockerfile and the speaker benchmark.
#
#   scripts/build-dist.sh            # -> target/x86_64-unknown-linux-gnu/dist/ferrolb
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
# --target keeps these flags off build scripts and proc macros (which must stay dynamic).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --profile dist --locked --target "$target" -p ferrolb >&2
bin="target/$target/dist/ferrolb"
# static and self-contained: no interpreter, no shared libraries
if readelf -lW "$bin" | grep -q INTERP; then
  echo "error: $bin is not static (it has a program interpreter)" >&2
  exit 1
fi
echo "$bin"
