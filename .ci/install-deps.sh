#!/usr/bin/env bash
# Install everything the explorer needs from this repository's own files.
# Used unchanged by .ci/run and by the Dockerfile, so the image is built with
# the same steps that CI exercises.
#
#   .ci/install-deps.sh            Python requirements and system libraries
#   .ci/install-deps.sh --browser  also Debian's Chromium, for the browser test
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
with_browser=0
if [ "${1:-}" = "--browser" ]; then
    with_browser=1
fi

if command -v apt-get >/dev/null 2>&1; then
    packages="ca-certificates curl"
    if [ "$with_browser" = 1 ]; then
        # Playwright's own browser download is not used: Debian's Chromium is.
        packages="$packages chromium fonts-dejavu-core"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi

python3 -m pip install --no-cache-dir --disable-pip-version-check -q -r "$here/requirements.txt"
