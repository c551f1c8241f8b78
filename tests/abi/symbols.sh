#!/usr/bin/env bash
# libcallroute.so exports exactly one symbol of ours: cr_plugin_entry. It needs none of the
# libraries it loads on first use (libxml2, liblua, liblmdb: xml/cr_libxml.h, lua/lua_dl.h,
# directory/lmdb/cr_lmdb.h), and none of their functions is left for the dynamic linker: each is
# reached through a pointer filled when that library is loaded.
set -u
lib=$1
pass=0 fail=0
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^CALLROUTE_1$' | sort -u)
echo "exported: $syms"
if [ "$syms" = "cr_plugin_entry" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
needed=$(readelf -d "$lib" | awk '/NEEDED/ {print $NF}' | tr -d '[]' | tr '\n' ' ')
echo "needed: $needed"
if echo "$needed" | grep -qE 'libxml2|liblua|liblmdb'; then
    echo "FAIL: a library loaded on first use is needed at load"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
undef=$(nm -D --undefined-only "$lib" | awk '{print $2}' | grep -E '^(xml|lua|luaL|luaopen|mdb)_' | tr '\n' ' ')
if [ -n "$undef" ]; then
    echo "FAIL: functions of a library loaded on first use left undefined: $undef"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
