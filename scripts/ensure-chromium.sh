#!/bin/sh
# Debian's Chromium for the browser test (quant_assets_tests/ui): installed once, by apt.
set -e
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
    echo "the browser test needs /usr/bin/chromium: run 'sudo apt-get install -y chromium' once" >&2
    exit 1
fi
echo "installing Debian's chromium for the browser test (once)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
