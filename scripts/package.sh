#!/usr/bin/env bash
# Builds the four Debian packages with dpkg tools (no debhelper needed):
#   libcallroute1              the library (/usr/lib/<triplet>/libcallroute.so.1)
#   libcallroute-dev           header, libcallroute.so link, pkg-config and CMake files
#   callroute                  the CLI, its bench library, man page and bash completion
#   kamailio-callroute-module  callroute.so in Kamailio's module directory
#
#   scripts/package.sh [BUILD_DIR [OUT_DIR]]   (defaults build-pkg/ and dist/)
#
# BUILD_DIR is configured for /usr (Release) by scripts/setup.sh; PKG_SKIP_BUILD=1 reuses it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-pkg}
out=${2:-$top/dist}
if [ "${PKG_SKIP_BUILD:-0}" != 1 ]; then
    "$top/scripts/setup.sh" "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
fi
version=$(sed -n 's/^project(callroute VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")-1
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
work=$(mktemp -d "${TMPDIR:-/tmp}/callroute-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
DESTDIR=$work/root cmake --install "$build" >/dev/null
root=$work/root
lib=usr/lib/$triplet
[ -f "$root/$lib/libcallroute.so.1" ] || { echo "package: no $lib/libcallroute.so.1 (prefix /usr?)" >&2; exit 1; }

# move PATH... (relative to the install root) into package tree PKG
take() {
    local pkg=$1; shift
    for p in "$@"; do
        [ -e "$root/$p" ] || [ -L "$root/$p" ] || { echo "package: $p was not installed" >&2; exit 1; }
        mkdir -p "$work/$pkg/$(dirname "$p")"
        mv "$root/$p" "$work/$pkg/$p"
    done
}
take libcallroute1 "$lib/libcallroute.so.1"
take libcallroute-dev usr/include/callroute.h "$lib/libcallroute.so" "$lib/pkgconfig" "$lib/cmake"
take callroute usr/bin/callroute usr/share/man/man1/callroute.1 \
    usr/share/bash-completion/completions/callroute usr/share/callroute/schema/callroute.rng
[ -d "$root/$lib/callroute" ] && take callroute "$lib/callroute"
take kamailio-callroute-module "$lib/kamailio/modules/callroute.so"

# shared-library dependencies of the files of a package, as a Depends value
shdeps() {
    local pkg=$1 files
    files=$(find "$work/$pkg" -type f \( -name '*.so*' -o -path '*/bin/*' \) | sort)
    [ -n "$files" ] || return 0
    mkdir -p "$work/shl/debian"
    printf 'Source: callroute\n\nPackage: %s\nArchitecture: any\n' "$pkg" > "$work/shl/debian/control"
    (cd "$work/shl" && dpkg-shlibdeps -O -l"$work/libcallroute1/$lib" $files 2>/dev/null) \
        | sed -n 's/^shlibs:Depends=//p'
}
control() { # PKG SECTION DESCRIPTION EXTRA-DEPENDS
    local pkg=$1 deps
    deps=$(shdeps "$pkg" | sed 's/libcallroute1[^,]*,\? *//')
    deps=$(printf '%s' "${deps:+$deps, }$4" | sed 's/, *$//')
    mkdir -p "$work/$pkg/DEBIAN"
    {
        echo "Package: $pkg"
        echo "Version: $version"
        echo "Architecture: $arch"
        echo "Maintainer: callroute developers <callroute@localhost>"
        echo "Section: $2"
        echo "Priority: optional"
        [ -n "$deps" ] && echo "Depends: $deps"
        echo "Installed-Size: $(du -sk "$work/$pkg" | cut -f1)"
        echo "Description: $3"
    } > "$work/$pkg/DEBIAN/control"
}
# libxml2 is loaded when XML is first read (xml/cr_libxml.h): dpkg-shlibdeps does not see it.
# The package that holds the SONAME the build loads, at least the version built against.
xml_soname=$(cat "$build/libxml2-soname")
xml_pkg=$(dpkg -S "*/$xml_soname" 2>/dev/null | head -1 | cut -d: -f1)
[ -n "$xml_pkg" ] || { echo "package: no package holds $xml_soname" >&2; exit 1; }
xml_ver=$(dpkg-query -W -f='${Version}' "$xml_pkg" | sed 's/[-+~].*//')
# liblua and liblmdb likewise (lua/cr_lua_dl.h, directory/lmdb/cr_lmdb.h)
deps="$xml_pkg (>= $xml_ver)"
for f in liblua-soname liblmdb-soname; do
    so=$(cat "$build/$f")
    p=$(dpkg -S "*/$so" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$p" ] || { echo "package: no package holds $so" >&2; exit 1; }
    deps="$deps, $p (>= $(dpkg-query -W -f='${Version}' "$p" | sed 's/[-+~].*//'))"
done
control libcallroute1 libs "call-routing and response-group policy engine (library)" "$deps"
echo "activate-noawait ldconfig" > "$work/libcallroute1/DEBIAN/triggers"
control libcallroute-dev libdevel "call-routing policy engine (plugin ABI header)" "libcallroute1 (= $version)"
control callroute net "call-routing policy engine: the callroute command line" "libcallroute1 (= $version)"
control kamailio-callroute-module net "call-routing policy engine: Kamailio module" \
    "libcallroute1 (= $version), kamailio (>= 5.6)"
mkdir -p "$out"
for pkg in libcallroute1 libcallroute-dev callroute kamailio-callroute-module; do
    dpkg-deb --root-owner-group --build "$work/$pkg" "$out/${pkg}_${version}_$arch.deb" >/dev/null
    echo "$out/${pkg}_${version}_$arch.deb"
done
leftover=$(cd "$root" && find . -type f | head -5)
[ -z "$leftover" ] || echo "package: installed but in no package: $leftover" >&2
