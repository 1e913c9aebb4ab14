#!/usr/bin/env bash
# Make sure a bare Debian/Ubuntu machine can run napari headless: Xvfb and Mesa
# (software OpenGL) plus the X libraries Qt 6's xcb platform loads.
# As root it installs what is missing with apt-get; otherwise it prints the command.
set -euo pipefail
[ "$(uname -s)" = "Linux" ] || exit 0
command -v dpkg-query >/dev/null 2>&1 || { echo "display-deps: not a Debian-like system; install Xvfb and Mesa yourself" >&2; exit 0; }
pkgs=(xvfb xauth libgl1 libgl1-mesa-dri libegl1 libglx-mesa0 libxkbcommon-x11-0 libxcb-cursor0
      libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
      libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1 fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "display-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "display-deps: napari needs Xvfb and Mesa to run headless. Run as root:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
