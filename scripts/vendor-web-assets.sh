#!/usr/bin/env bash
# Refresh the web console's vendored Chart.js from the npm registry (an operator
# task, not part of set-up: the file and its license are committed, so running
# the console needs no network). Usage: scripts/vendor-web-assets.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.5.1}
target=bot/web/static/vendor/chartjs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "chart.js@$version" >/dev/null && tar xzf chart.js-*.tgz)
cp "$work/package/dist/chart.umd.min.js" "$target/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$target/LICENSE.md"
echo "Chart.js $version (npm package chart.js, MIT): dist/chart.umd.min.js. Refresh with scripts/vendor-web-assets.sh." > "$target/VERSION"
echo "vendored Chart.js $version into $target"
