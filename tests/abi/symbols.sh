#!/usr/bin/env bash
# libcallroute.so exports exactly one symbol of ours: cr_plugin_entry.
set -u
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^CALLROUTE_1$' | sort -u)
echo "exported: $syms"
if [ "$syms" = "cr_plugin_entry" ]; then echo "1 passed, 0 failed"; exit 0; fi
echo "0 passed, 1 failed"; exit 1
