# shellcheck shell=bash
# Debian packages for the scripts: installs what is missing, and only that (idempotent).

# apt_install_missing WHO PKG...: installs those PKGs that are not installed yet (with sudo when
# not root); WHO names the caller in its messages.
apt_install_missing() {
  local who="$1" pkg sudo=""
  shift
  local missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "$who: all $# packages already installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "$who: installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}
