#!/usr/bin/env bash
# Shared helpers for the CertPress scripts. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -euo pipefail

# Repository root, derived from where this file lives so the scripts work from any cwd.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# ccache (the build trees use it when present) hashes paths relative to the clone, so a fresh
# clone reuses what an earlier one compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$REPO}"

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

# Where the private pcscd's socket (pcscd.comm) and the virtual cards' control sockets live
# (scripts/stack, scripts/vcard). Unix socket paths are limited to 107 bytes (sun_path), so
# for long state paths the directory moves to /tmp, named by a hash of the state path: stable
# across runs and distinct between stacks.
pcsc_socket_dir() {
    local dir="$STATE/pcsc"
    # the longest name put in it is "cardNNN.sock"
    if (($(printf '%s' "$dir/cardNNN.sock" | wc -c) > 107)); then
        dir="/tmp/certpress-$(printf '%s' "$STATE" | sha256sum | cut -c1-16)/pcsc"
    fi
    printf '%s\n' "$dir"
}
