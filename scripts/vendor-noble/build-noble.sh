#!/bin/sh
# Rebuilds assets/web/vendor/noble-spake2.min.js from the pinned npm releases (see VENDOR.json).
# Not part of `make test`: the built file is committed and its hash is checked by
# tests/web/test_interop_pake.py. Run by hand when upgrading @noble.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cp "$here/noble-spake2.entry.js" "$work/entry.js"
cd "$work"
npm init -y >/dev/null
npm install --save-exact --no-audit --no-fund @noble/curves@2.0.1 @noble/hashes@2.0.1 esbuild@0.25.12 >/dev/null
npx esbuild entry.js --bundle --format=iife --global-name=OraNoble --minify --legal-comments=inline \
  --target=es2020 --footer:js='if(typeof module==="object"&&module.exports)module.exports=OraNoble;' \
  --outfile="$here/../../assets/web/vendor/noble-spake2.min.js"
rm -rf "$work"
