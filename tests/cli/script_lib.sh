# Sourced by the command line's script tests called as `SCRIPT CALLROUTE SOURCE_DIR`: cli and
# src from the arguments, then check_lib.sh (a scratch directory $tmp removed at exit, the
# failures counted in $fail); fail() is its bad().
set -u
cli=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
fail() { bad "$@"; }
