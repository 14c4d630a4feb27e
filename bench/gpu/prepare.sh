#!/usr/bin/env bash
# Packs what bench/gpu/device-run.sh needs on a bare GPU machine that reaches no registry, into the
# git-ignored folders .gpu/ and .gl/ of this checkout (≈ 50 MiB; the device tool carries ≤ 64 MiB):
#   .gpu/bun.xz               this machine's bun (the pinned 1.4.5)
#   .gpu/vulkan-libs.tar.xz   the @node-llama-cpp/linux-x64-vulkan 3.21.1 libraries GoGrid ships
#   .gpu/llama-src.tar.xz     the llama.cpp release those come from (node-llama-cpp's gitRelease.bundle),
#                             the parts scripts/build-cuda.ts builds
#   .gl/*.deb                 Debian's Vulkan loader and glvnd (the NVIDIA Vulkan driver needs them)
# Run from the repository root after `bun install`. Add `/.gpu/` and `/.gl/` to .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu .gl
bun_bin=$(readlink -f "$(command -v bun)")
# each file is written beside its name and moved in place: an interrupted run leaves no half file
[ -s .gpu/bun.xz ] || { xz -9 -T0 -c "$bun_bin" > .gpu/bun.xz.tmp && mv .gpu/bun.xz.tmp .gpu/bun.xz; }
vk=$(dirname "$(bun -e 'console.log(Bun.resolveSync("@node-llama-cpp/linux-x64-vulkan/package.json", process.cwd() + "/native/"))')")/bins/linux-x64-vulkan
[ -s .gpu/vulkan-libs.tar.xz ] || { tar -C "$vk" -cJf .gpu/vulkan-libs.tar.xz.tmp --exclude llama-addon.node --exclude libllama-common.so . &&
  mv .gpu/vulkan-libs.tar.xz.tmp .gpu/vulkan-libs.tar.xz; }
if [ ! -s .gpu/llama-src.tar.xz ]; then
  bundle=$(dirname "$(bun -e 'console.log(Bun.resolveSync("node-llama-cpp/package.json", process.cwd()))')")/llama/gitRelease.bundle
  src=$(mktemp -d)
  git clone -q "$bundle" "$src"
  git -C "$src" archive --format=tar HEAD CMakeLists.txt LICENSE cmake ggml include src common vendor licenses app | xz -9 -T0 > .gpu/llama-src.tar.xz.tmp
  mv .gpu/llama-src.tar.xz.tmp .gpu/llama-src.tar.xz
  rm -rf "$src"
fi
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -ch .gpu/* .gl/* | tail -1
