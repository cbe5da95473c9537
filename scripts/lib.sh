#!/usr/bin/env bash
# Shared helpers for the CertPress scripts. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -euo pipefail

# Repository root, derived from where this file lives so the scripts work from any cwd.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# All private runtime state (database files, token store, secrets, generated config).
# CERTPRESS_STATE lets several stacks coexist; it is made absolute because the paths end up
# in config files that are read from other working directories. realpath -m accepts a path
# that does not exist yet.
STATE="$(realpath -m -- "${CERTPRESS_STATE:-$REPO/.certpress}")"

export REPO STATE

# Messages go to stderr so that stdout stays usable for machine-readable output.
log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}
