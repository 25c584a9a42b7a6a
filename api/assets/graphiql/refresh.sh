#!/usr/bin/env bash
# Replaces the vendored GraphiQL files with the ones published on npm, byte for byte:
#   api/assets/graphiql/refresh.sh [graphiql-version] [react-version]
# GraphiQL 5 and React 19 ship no browser (UMD) builds, so stay on GraphiQL 4.x and React 18.x.
set -euo pipefail
cd "$(dirname "$0")"
graphiql="${1:-4.1.2}"
react="${2:-18.3.1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  npm pack --silent "graphiql@$graphiql" "react@$react" "react-dom@$react" >/dev/null
  for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
)
g="$tmp/graphiql-$graphiql/package"
cp "$g/graphiql.min.js" "$g/graphiql.min.css" .
cp "$g/LICENSE" LICENSE.graphiql
cp "$tmp/react-$react/package/umd/react.production.min.js" .
cp "$tmp/react-$react/package/LICENSE" LICENSE.react
cp "$tmp/react-dom-$react/package/umd/react-dom.production.min.js" .
cp "$tmp/react-dom-$react/package/LICENSE" LICENSE.react-dom
echo "GraphiQL $graphiql, React $react: update the versions and checksums in README.md"
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
