#!/usr/bin/env bash
# Install the Engram bundle for this user: no root, no Python, no network.
#   ./install.sh            (from the unpacked Engram-linux-x86_64 folder)
# Puts the program in $XDG_DATA_HOME/engram-app (default ~/.local/share/engram-app), a menu
# entry and an icon under the same share dir, and a `engram` link in ~/.local/bin.
# Your data (agents, memory, settings, your own models) lives in ~/.local/share/engram and is
# never touched: an upgrade is this script run again, uninstall.sh keeps the data too.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
APP="$SHARE/engram-app"
BIN="$HOME/.local/bin"
[ -x "$HERE/Engram/engram" ] || { echo "install.sh: $HERE/Engram/engram not found" >&2; exit 1; }

mkdir -p "$SHARE/applications" "$SHARE/icons/hicolor/256x256/apps" "$BIN"
# copy next to the old version, then swap, so a failed copy never leaves half a program
rm -rf "$APP.new"
cp -R "$HERE/Engram" "$APP.new"
rm -rf "$APP.old"
[ -e "$APP" ] && mv "$APP" "$APP.old"
mv "$APP.new" "$APP"
rm -rf "$APP.old"

install -m 0644 "$HERE/engram.png" "$SHARE/icons/hicolor/256x256/apps/engram.png"
sed "s|^Exec=.*|Exec=\"$APP/engram\"|" "$HERE/engram.desktop" > "$SHARE/applications/engram.desktop"
chmod 0644 "$SHARE/applications/engram.desktop"
ln -sfn "$APP/engram" "$BIN/engram"

command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true

echo "Engram installed in $APP"
echo "Start it from the applications menu, or run: $BIN/engram   (terminal chat: engram --chat)"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "Note: $BIN is not on your PATH.";; esac
