#!/usr/bin/env bash
# Copies cwb's three binaries and cwb-bench (stripped), the release gate's static cwb-audit, Debian's ccache when this machine has it (the
# compile cache's builds use it; a GPU host without a package manager gets it this way), and the
# shared libraries they load into DIR
# (default .gpu-bundle): DIR/bin and DIR/lib, for a host that has none of the -dev packages (the
# GPU machine of tests/gpu/, or a host to run the benchmarks on). glibc and the C++ runtime stay the host's own: they are backward
# compatible and must match its loader. The binaries find DIR/lib through an $ORIGIN-relative
# DT_RPATH (which, unlike RUNPATH, also serves the libraries' own dependencies), so no
# LD_LIBRARY_PATH leaks into the builds an agent starts. Run after scripts/build.sh; needs patchelf.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu-bundle}
build=${CWB_BUILD_DIR:-build}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
binaries=("$build/agent/cwb-agent" "$build/coordinator/cwb-coordinator" "$build/client/cwb" "$build/bench/cwb-bench")
if ccache=$(command -v ccache); then binaries+=("$ccache"); fi
for binary in "${binaries[@]}"; do
  strip -o "$out/bin/$(basename "$binary")" "$binary"
done
ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
strip --strip-unneeded "$out"/lib/*.so* 2>/dev/null || true
for binary in "$out"/bin/*; do
  patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$binary"
done
# The release gate's helper: static, beside the binaries as installed (bin/../libexec/cwb).
mkdir -p "$out/libexec/cwb"
strip -o "$out/libexec/cwb/cwb-audit" "$build/libexec/cwb/cwb-audit"
echo "bundle-binaries: $(ls "$out/lib" | wc -l) libraries, $(du -sh "$out" | cut -f1) in $out"
