#!/usr/bin/env bash
# Install watchman, the file-system monitor that `[core] fsmonitor =
# "watchman"` uses (Debian's package; 4.9 or newer). Optional for users: the
# monitor is off by default. CI runs this so that the monitored tests run.
# Needs root (or sudo) and the Debian package archive.
set -euo pipefail
if command -v watchman >/dev/null 2>&1; then
    echo "watchman already installed: $(watchman --version)"
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq watchman >/dev/null
echo "installed watchman $(watchman --version)"
