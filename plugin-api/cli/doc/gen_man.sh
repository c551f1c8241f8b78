#!/bin/sh
# Generates the callroute(1) man page from the program's own help texts:
#   gen_man.sh CALLROUTE_BINARY VERSION [OUTPUT]   (stdout without OUTPUT)
set -eu
cr=$1 version=$2
[ $# -lt 3 ] || exec > "$3"
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/"; }
cat <<HEAD
.TH CALLROUTE 1 "" "callroute $version" "User Commands"
.SH NAME
callroute \- call routing and response-group policy engine: check, route, test, simulate
.SH SYNOPSIS
.B callroute
.I COMMAND
[\fIoptions\fR]
.SH DESCRIPTION
The Route Helper of callroute: it loads libcallroute.so through its plugin ABI, as a SIP
server does, and answers what the server would decide.
.PP
.nf
HEAD
"$cr" --help | esc
echo ".fi"
echo ".SH COMMANDS"
for c in check normalize route dial inbound simulate test diff compile users bench; do
  echo ".SS $c"
  echo ".nf"
  "$cr" "$c" --help 2>&1 | esc
  echo ".fi"
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B CALLROUTE_LIBRARY
the libcallroute.so to load (as \-\-library PATH)
.TP
.B CALLROUTE_QUIET
no warnings of the library on stderr
.SH EXIT STATUS
0 success, 1 a decision, validation or test failed, 2 usage or configuration error.
.SH SEE ALSO
.BR kamailio (8),
.BR kamcmd (8)
TAIL
