#!/usr/bin/env bash
# Package "build/dist/SD21 Desktop.app" (made by packaging/build.py on macOS) into a .dmg.
#
#   python3 packaging/build.py            # on a Mac: builds the folder and SD21 Desktop.app
#   bash packaging/macos/build_dmg.sh     # -> build/installers/sd21-desktop-<version>-macos-<arch>.dmg
#
# Environment:
#   CODESIGN_IDENTITY  "Developer ID Application: ..." to sign with hardened runtime; unset: an
#                      ad-hoc signature (runs on the building Mac; others see Gatekeeper's
#                      "unidentified developer" and must right-click > Open).
#   NOTARY_PROFILE     a `xcrun notarytool store-credentials` profile name: notarize and staple.
#
# Not runnable on the Linux development machines; CI's macos-latest job runs it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
APP_NAME="SD21 Desktop"
APP="$ROOT/build/dist/$APP_NAME.app"
OUT_DIR="$ROOT/build/installers"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/sd21_desktop/__init__.py")"
ARCH="$(uname -m)"
DMG="$OUT_DIR/sd21-desktop-$VERSION-macos-$ARCH.dmg"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build_dmg.sh needs macOS (hdiutil, codesign)" >&2
    exit 2
fi
if [[ ! -d "$APP" ]]; then
    echo "$APP is missing: run python3 packaging/build.py first" >&2
    exit 2
fi

# 1. Sign. PyInstaller signs each binary ad hoc; a real identity needs the hardened runtime and
#    the entitlements in entitlements.plist (executable memory for Python/torch, library
#    validation off for the bundled dylibs).
if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    echo "signing with $CODESIGN_IDENTITY"
    codesign --force --deep --options runtime --timestamp \
        --entitlements "$ENTITLEMENTS" --sign "$CODESIGN_IDENTITY" "$APP"
else
    echo "no CODESIGN_IDENTITY: ad-hoc signature"
    codesign --force --deep --sign - "$APP"
fi
codesign --verify --deep --strict --verbose=2 "$APP"

# 2. Smoke-test the app bundle itself (not just the folder build): it must start and quit.
"$APP/Contents/MacOS/sd21-desktop" --smoke-test
"$APP/Contents/MacOS/sd21-desktop-cli" --version

# 3. The disk image: the app and a link to /Applications to drag it onto.
STAGING="$(mktemp -d)"
trap 'rm -rf "$STAGING"' EXIT
cp -R "$APP" "$STAGING/"
ln -s /Applications "$STAGING/Applications"
mkdir -p "$OUT_DIR"
rm -f "$DMG"
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGING" -ov -format UDZO \
    -fs HFS+ "$DMG"
hdiutil verify "$DMG"

# 4. Notarize (optional).
if [[ -n "${NOTARY_PROFILE:-}" && -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --force --sign "$CODESIGN_IDENTITY" --timestamp "$DMG"
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi

echo "built $DMG ($(du -h "$DMG" | cut -f1))"
