#!/usr/bin/env bash
# The main job on real input: put this repository's own sources under muse
# (build output and the virtualenv are left out by .museignore) with the
# `muse` command installed by ./scripts/install.sh, and show what it did.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export PATH="$here/.venv/bin:$PATH"
unset MUSE_REPO_ROOT
[ -d .muse ] || muse init
muse add -A
muse commit -m "muse sources at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --author "scripts/demo.sh" \
  || echo "(nothing new to commit)"
muse status --short | head -20
muse log --max-count 3
muse verify
