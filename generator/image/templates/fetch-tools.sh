#!/bin/sh
# The image's download-and-verify stage: the pinned k3s, sops and helm for TARGETARCH, each
# checked against the checksums its release publishes, written to the folder given as $1.
# Runs under busybox sh (wget) as well as on the bootc bases (curl); a missing checksum entry,
# a mismatch or a failed download fails the build.
set -eu

out=${1:?usage: fetch-tools.sh OUT_DIR}
: "${TARGETARCH:?TARGETARCH is not set}"
: "${K3S_VERSION:?}" "${K3S_RELEASE_URL:?}"
: "${SOPS_VERSION:?}" "${SOPS_RELEASE_URL:?}"
: "${HELM_VERSION:?}" "${HELM_RELEASE_URL:?}"

fail() {
  echo "fetch-tools: $*" >&2
  exit 1
}

case "$TARGETARCH" in
  amd64) k3s_asset=k3s ;;
  arm64) k3s_asset=k3s-arm64 ;;
  *) fail "unsupported TARGETARCH $TARGETARCH (amd64 or arm64)" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

download() {
  echo "fetch-tools: $1"
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 3 --output "$2" "$1" || fail "download failed: $1"
  else
    wget -q -O "$2" "$1" || fail "download failed: $1"
  fi
}

# verify FILE CHECKSUMS NAME: CHECKSUMS (lines "<sha256>  <name>") must list NAME with FILE's hash.
verify() {
  expected=""
  while read -r sum name; do
    # sha256sum marks binary mode with a leading '*'.
    if [ "${name#\*}" = "$3" ]; then expected=$sum; fi
  done <"$2"
  [ -n "$expected" ] || fail "$3 is not listed in its release's checksums"
  actual=$(sha256sum "$1")
  actual=${actual%% *}
  [ "$actual" = "$expected" ] || fail "$3: checksum mismatch (release lists $expected, downloaded $actual)"
  echo "fetch-tools: $3 verified ($actual)"
}

# k3s: the release's sha256sum-<arch>.txt lists the binary as k3s (amd64) or k3s-arm64.
download "$K3S_RELEASE_URL/$K3S_VERSION/sha256sum-$TARGETARCH.txt" "$work/k3s.sha256"
download "$K3S_RELEASE_URL/$K3S_VERSION/$k3s_asset" "$work/k3s"
verify "$work/k3s" "$work/k3s.sha256" "$k3s_asset"

# sops: static binaries sops-v<version>.linux.<arch>, listed in sops-v<version>.checksums.txt.
sops_asset="sops-v$SOPS_VERSION.linux.$TARGETARCH"
download "$SOPS_RELEASE_URL/v$SOPS_VERSION/sops-v$SOPS_VERSION.checksums.txt" "$work/sops.sha256"
download "$SOPS_RELEASE_URL/v$SOPS_VERSION/$sops_asset" "$work/sops"
verify "$work/sops" "$work/sops.sha256" "$sops_asset"

# helm: helm-v<version>-linux-<arch>.tar.gz (holding linux-<arch>/helm) and its .sha256sum.
helm_asset="helm-v$HELM_VERSION-linux-$TARGETARCH.tar.gz"
download "$HELM_RELEASE_URL/$helm_asset.sha256sum" "$work/helm.sha256"
download "$HELM_RELEASE_URL/$helm_asset" "$work/helm.tar.gz"
verify "$work/helm.tar.gz" "$work/helm.sha256" "$helm_asset"
tar -xzf "$work/helm.tar.gz" -C "$work" "linux-$TARGETARCH/helm"

for tool in k3s sops; do
  cp "$work/$tool" "$out/$tool"
done
cp "$work/linux-$TARGETARCH/helm" "$out/helm"
chmod 0755 "$out/k3s" "$out/sops" "$out/helm"
