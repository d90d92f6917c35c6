#!/usr/bin/env bash
# Remove the Engram program, its menu entry, icon and `engram` link. Your data is kept:
# it lives in ~/.local/share/engram (or $ENGRAM_HOME); delete that folder yourself to erase it.
set -euo pipefail
SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
APP="$SHARE/engram-app"
LINK="$HOME/.local/bin/engram"

rm -rf "$APP" "$APP.new" "$APP.old"
rm -f "$SHARE/applications/engram.desktop" "$SHARE/icons/hicolor/256x256/apps/engram.png"
# only our own link: a `engram` from a source checkout (pip install -e) is left alone
if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$APP/engram" ]; then rm -f "$LINK"; fi

command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
echo "Engram removed. Your data is still in ${ENGRAM_HOME:-$SHARE/engram}."
