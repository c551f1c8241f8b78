# Sourced by the command line's script tests called as `SCRIPT CALLROUTE SOURCE_DIR`: cli and
# src from the arguments, a scratch directory $tmp removed at exit, fail() counting in $fails.
set -u
cli=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
