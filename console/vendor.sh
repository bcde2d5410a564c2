#!/usr/bin/env bash
# Rebuilds console/assets/ (served by the broker under /ui/assets/, compiled into the binary)
# from the npm packages pinned in package.json and package-lock.json: GOV.UK Frontend's
# stylesheet, fonts and images, and packet.js (js/packet.mjs bundled with age-encryption by
# esbuild), with each package's licence. `bash .ci/run` runs it and fails if the committed
# assets differ from what the pinned versions build.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null 2>&1 || { echo "vendor.sh: npm (node 20) is needed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
out=assets
rm -rf "$out"
mkdir -p "$out/govuk/fonts" "$out/govuk/images" "$out/licences"
g=node_modules/govuk-frontend/dist/govuk
# the stylesheet names its files under /assets/: the broker serves them under /ui/assets/govuk/
sed -e 's#url(/assets/#url(/ui/assets/govuk/#g' -e '/sourceMappingURL/d' \
  "$g/govuk-frontend.min.css" > "$out/govuk/govuk-frontend.min.css"
cp "$g"/assets/fonts/*.woff2 "$g"/assets/fonts/*.woff "$out/govuk/fonts/"
cp "$g/assets/images/favicon.svg" "$g/assets/images/govuk-crest.svg" "$out/govuk/images/"
./node_modules/.bin/esbuild js/packet.mjs --bundle --format=esm --target=es2022 --minify \
  --legal-comments=eof --log-level=warning --outfile="$out/packet.js"
cp console.css "$out/console.css"
# licences: GOV.UK Frontend ships none in its package (MIT, Crown Copyright): ours is a copy
cp licences/govuk-frontend.LICENSE "$out/licences/govuk-frontend.LICENSE"
for p in age-encryption @noble/ciphers @noble/curves @noble/hashes @noble/post-quantum @scure/base; do
  cp "node_modules/$p/LICENSE" "$out/licences/$(echo "$p" | tr '/' '_').LICENSE"
done
{
  echo "# Vendored by console/vendor.sh; do not edit"
  for p in govuk-frontend age-encryption @noble/ciphers @noble/curves @noble/hashes @noble/post-quantum @scure/base; do
    node -e "const m=require('./node_modules/$p/package.json'); console.log(m.name+'@'+m.version+' '+m.license)"
  done
} > "$out/VERSIONS"
