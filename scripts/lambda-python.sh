#!/bin/sh
# A CPython of a Lambda runtime's version, from Debian's registry only (no prebuilt binaries
# from elsewhere, no compiler): a minimal Debian root holding that python, under DEST.
#
#     scripts/lambda-python.sh 3.13 .tools/python3.13   ->  .tools/python3.13/bin/python3.13
#
# The root is made once with debootstrap (about 30 s, 260 MB); its interpreter is then made to
# run straight from the host by pointing it at the root's own dynamic loader and libraries
# (patchelf), so nothing runs inside a chroot and every host path stays visible. Packages go in
# from outside with the host's pip (--target, --python-version). Needs root the first time
# (apt-get, debootstrap), as CI has; re-running is a stamp check.
set -eu

version=$1
dest=$2

case "$version" in
  3.13) suite=trixie; script=trixie ;;
  # Debian's testing (forky) carries 3.14; bookworm's debootstrap knows it by sid's script.
  3.14) suite=forky; script=sid ;;
  *) echo "lambda-python.sh: no Debian suite known for Python $version" >&2; exit 2 ;;
esac

mkdir -p "$dest"
dest=$(CDPATH= cd -- "$dest" && pwd -P)
root="$dest/root"
stamp="$dest/.installed"
python="$root/usr/bin/python$version"
# The absolute path is baked into the interpreter: a moved .tools is set up again.
want="$suite $dest"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$dest/bin/python$version" -c '' 2>/dev/null; then
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1 || ! command -v patchelf >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "lambda-python.sh: needs debootstrap and patchelf (apt-get install, as root)" >&2
    exit 1
  fi
  apt-get install -y -qq debootstrap patchelf >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq debootstrap patchelf >/dev/null; }
fi

# The machine's own Debian mirror (deb822 or one-line sources), else Debian's CDN.
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -Eo 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ') || true
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -x "$python" ]; then
  rm -rf "$root.tmp"
  echo "lambda-python.sh: debootstrap $suite with python$version into $root (once)" >&2
  debootstrap --variant=minbase --include="python$version" "$suite" "$root.tmp" "$mirror" \
    "/usr/share/debootstrap/scripts/$script" >"$dest/debootstrap.log" 2>&1 || {
    tail -n 20 "$dest/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"
  mv "$root.tmp" "$root"
fi

# Run on the host with the root's loader and libraries (the root's glibc is newer than ours).
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
interpreter=$(patchelf --print-interpreter "$python")
interpreter=${interpreter#*/root/usr}  # as Debian built it, even if patched for an older path
patchelf --set-interpreter "$root/usr$interpreter" "$python"
patchelf --force-rpath --set-rpath "$root/usr/lib/$multiarch" "$python"

# bin/pythonX.Y: a symlink, so sys.executable (what subprocesses re-run) works too.
mkdir -p "$dest/bin"
ln -sfn "$python" "$dest/bin/python$version"
"$dest/bin/python$version" -c 'import ssl, sqlite3, ctypes, zlib, lzma, decimal'
echo "$want" >"$stamp"
