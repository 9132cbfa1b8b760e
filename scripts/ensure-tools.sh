#!/usr/bin/env bash
# Installs what `npm start`, `npm test` and `npm run bench` need, when it is missing, and says
# so in one line per tool. Idempotent and quick when everything is there.
#
#   - the Rust target wasm32-unknown-unknown (rustup);
#   - the wasm-bindgen CLI at exactly the version Cargo.lock resolves for the crate's `=` pin;
#   - Chromium and ChromeDriver (Debian packages chromium, chromium-driver) at /usr/bin;
#   - PostgreSQL's server binaries (Debian package postgresql) under /usr/lib/postgresql, for the
#     server tests on PostgreSQL (the tests start a throwaway cluster of their own; the
#     package's own cluster is left alone);
#   - node_modules/ (npm ci), when missing or installed from another package-lock.json.
#
# It refuses to install a Rust toolchain, Node or npm (a machine of this kind has them), and it
# never downloads a browser build of its own: Chromium comes from the system's packages only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
say() { printf 'ensure-tools: %-26s %s\n' "$1" "$2"; }
die() { printf 'ensure-tools: %s\n' "$*" >&2; exit 1; }

for tool in cargo rustup node npm; do
  command -v "$tool" >/dev/null || die "$tool is not installed; install it first (Rust via rustup, Node 20+ with npm)"
done

# The wasm32 target.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown" "present"
else
  rustup target add wasm32-unknown-unknown
  say "wasm32-unknown-unknown" "installed"
fi

# wasm-bindgen CLI (and wasm-bindgen-test-runner, from the same package), pinned to the crate.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$wanted" ] || die "Cargo.lock names no wasm-bindgen version"
found=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$found" = "$wanted" ] && command -v wasm-bindgen-test-runner >/dev/null; then
  say "wasm-bindgen-cli" "$wanted present"
else
  # No --locked: the CLI's own lock file does not build with the toolchain here.
  cargo install wasm-bindgen-cli --version "$wanted" --force
  now=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
  [ "$now" = "$wanted" ] || die "wasm-bindgen $wanted was installed but \`wasm-bindgen --version\` says ${now:-nothing}: is ${CARGO_HOME:-$HOME/.cargo}/bin first on PATH?"
  say "wasm-bindgen-cli" "$wanted installed (was: ${found:-none})"
fi

# Installs Debian packages, as root or through sudo.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "$* missing, and installing it needs root: apt-get install -y $*"
    sudo="sudo"
  fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@"
}

# Chromium and ChromeDriver, from Debian.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  say "chromium, chromedriver" "present"
else
  apt_install chromium chromium-driver
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || die "apt-get installed chromium but /usr/bin/chromium or /usr/bin/chromedriver is missing"
  say "chromium, chromedriver" "installed"
fi

# PostgreSQL, from Debian: only its binaries are used.
if compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
  say "postgresql" "present"
else
  apt_install postgresql
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl is there"
  say "postgresql" "installed"
fi

# node_modules, checked against the package-lock.json it was installed from.
stamp=node_modules/.licet-lock-sha256
if [ -f package-lock.json ]; then
  want_sum=$(sha256sum package-lock.json | awk '{ print $1 }')
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_sum" ] && [ -x node_modules/.bin/wasm-opt ] && [ -d node_modules/playwright-core ]; then
    say "node_modules" "up to date"
  else
    npm ci --no-audit --no-fund
    mkdir -p node_modules
    echo "$want_sum" > "$stamp"
    say "node_modules" "installed (npm ci)"
  fi
else
  die "package-lock.json is missing: it is tracked in git, restore it (git checkout -- package-lock.json)"
fi
