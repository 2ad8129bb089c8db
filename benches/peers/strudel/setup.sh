#!/bin/sh
# Installs the pinned Strudel packages next to gen.mjs (node 20; 1.2.x does not load there).
set -e
cd "$(dirname "$0")"
npm install --no-audit --no-fund
