#!/usr/bin/env bash
# Fetch a pinned zxing-wasm from the npm registry and copy the reader build into web/vendor
# (see web/vendor/README.md). Usage: bash scripts/vendor-web.sh 3.1.8
set -euo pipefail
version=${1:?usage: vendor-web.sh <zxing-wasm version>}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "zxing-wasm@$version" >/dev/null && tar xzf "zxing-wasm-$version.tgz")
expected=$(npm view "zxing-wasm@$version" dist.integrity)
actual="sha512-$(openssl dgst -sha512 -binary "$work/zxing-wasm-$version.tgz" | base64 -w0)"
[[ "$expected" == "$actual" ]] || { echo "integrity mismatch: $expected != $actual" >&2; exit 1; }
dest="$here/web/vendor/zxing-wasm"
mkdir -p "$dest/es/reader" "$dest/reader"
cp "$work/package/dist/es/reader/index.js" "$dest/es/reader/index.js"
cp "$work/package/dist/es/share.js" "$dest/es/share.js"
cp "$work/package/dist/reader/zxing_reader.wasm" "$dest/reader/zxing_reader.wasm"
cp "$work/package/LICENSE" "$dest/LICENSE"
(cd "$here/web/vendor" && sha256sum zxing-wasm/reader/zxing_reader.wasm zxing-wasm/es/reader/index.js zxing-wasm/es/share.js)
