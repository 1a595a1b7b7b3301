#!/usr/bin/env bash
# focusd's installer: `make install` / `make uninstall` call it (see systemd/README.md).
#
#   bash systemd/install.sh install   [--root DIR] [--pi|--no-pi] [--no-venv] [--no-apt]
#   bash systemd/install.sh uninstall [--root DIR] [--purge]
#
# install puts in place, in this order:
#   1. the package, in its own virtual environment /opt/focusd/venv (pip, from this checkout;
#      with the [pi] extra on a Raspberry Pi or any aarch64 machine, plain elsewhere), and the
#      focusd command on the PATH: /usr/local/bin/focusd, a link to the environment's
#   2. the default configuration /etc/focusd/focusd.toml (never overwrites an existing one)
#   3. the system user focusd, in the groups video, gpio and i2c (groups missing on this machine
#      are created empty: systemd refuses to start a unit whose SupplementaryGroups do not exist)
#   4. the unit /etc/systemd/system/focusd.service, then daemon-reload and enable (and a restart
#      if it was already running, so an upgrade takes effect)
#   5. the viewfinder page's unit /etc/systemd/system/focusd-web.service and its system user
#      focusd-web (in group focusd: the bridge socket, the captures), installed but NOT enabled:
#      the shipped configuration says [web] enabled = false. To use it: set [web] enabled = true,
#      `sudo focusd web-password`, `sudo systemctl enable --now focusd-web`, restart focusd
#   /etc/focusd is the focusd user's (mode 0755): the daemon writes the settings changed on the
#   page back to focusd.toml (atomically: a new file renamed over it); focusd-web only reads it.
# uninstall stops and disables both units and removes them, the link and /opt/focusd; the
# configuration, the captures in /var/lib/focusd and the users stay, unless --purge.
#
# --root DIR does all of it inside DIR instead of this machine (user and groups written to
# DIR/etc/passwd and DIR/etc/group with useradd --prefix, the unit enabled with systemctl --root,
# nothing started, no apt-get): that is how the tests run it (with --no-venv). DESTDIR=DIR in the
# environment means the same. A virtual environment built under DIR has its paths rewritten to
# /opt/focusd/venv, but it still runs only where this machine's python3 (same path, same version,
# same architecture: numpy and Pillow are compiled) exists: prepare a Pi image on a Pi.
set -euo pipefail

ACTION="${1:-}"
[ $# -gt 0 ] && shift
ROOT="${DESTDIR:-}"
PURGE=0
PI=auto
VENV=1
APT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --root=*) ROOT="${1#--root=}"; shift ;;
        --purge) PURGE=1; shift ;;
        --pi) PI=1; shift ;;
        --no-pi) PI=0; shift ;;
        --no-venv) VENV=0; shift ;;
        --no-apt) APT=0; shift ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -n "$ROOT" ]; then
    ROOT="$(cd "$ROOT" && pwd)"   # absolute, must exist
    [ "$ROOT" = "/" ] && ROOT=""
fi

CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=focusd
PREFIX=/opt/focusd
VENV_DIR=$PREFIX/venv
CONFIG=/etc/focusd/focusd.toml
UNIT=/etc/systemd/system/focusd.service
WEB_NAME=focusd-web
WEB_UNIT=/etc/systemd/system/focusd-web.service
# on every user's PATH and on sudo's secure_path (Debian): `focusd probe`, `sudo focusd check-config`
COMMAND_LINK=/usr/local/bin/focusd
STATE=/var/lib/focusd
GROUPS_NEEDED=(video gpio i2c)
PYTHON="${PYTHON:-python3}"

say() { echo "focusd install: $*"; }

# --- the user database, on this machine or under --root -----------------------------------
has_user() {
    if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null
    else getent passwd "$1" >/dev/null; fi
}
has_group() {
    if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null
    else getent group "$1" >/dev/null; fi
}
prefix_opt() { if [ -n "$ROOT" ]; then echo "--prefix=$ROOT"; fi; }
# numeric ids (under --root the names exist only in DIR/etc/passwd and DIR/etc/group)
uid_of() {
    if [ -n "$ROOT" ]; then awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/passwd"; else id -u "$1"; fi
}
gid_of() {
    if [ -n "$ROOT" ]; then awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/group"
    else getent group "$1" | cut -d: -f3; fi
}

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

on_a_pi() {
    case "$PI" in
        1) return 0 ;;
        0) return 1 ;;
    esac
    grep -qa "Raspberry Pi" /proc/device-tree/model 2>/dev/null && return 0
    [ "$(uname -m)" = aarch64 ]
}

# --- install -------------------------------------------------------------------------------
install_venv() {
    if [ "$VENV" = 0 ]; then say "skipping the virtual environment (--no-venv)"; return; fi
    local extra="" system_site=()
    if on_a_pi; then
        extra="[pi]"
        # picamera2's libcamera binding exists only as a Debian package (python3-libcamera), so the
        # venv sees the system's site-packages; lgpio too (its PyPI build needs liblgpio).
        system_site=(--system-site-packages)
        if [ "$APT" = 1 ] && [ -z "$ROOT" ] && ! dpkg -s python3-picamera2 python3-lgpio >/dev/null 2>&1; then
            say "installing python3-picamera2 and python3-lgpio with apt-get"
            apt-get install -y --no-install-recommends python3-picamera2 python3-lgpio
        fi
    fi
    say "package into $ROOT$VENV_DIR ${extra:-(no Pi extra)}"
    mkdir -p "$ROOT$PREFIX"
    "$PYTHON" -m venv "${system_site[@]}" "$ROOT$VENV_DIR"
    # pip builds in the source tree; build from a copy so that no root-owned build/ or egg-info is
    # left in the developer's checkout
    local source status=0
    source="$(mktemp -d)"
    tar -C "$CHECKOUT" --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./captures -cf - . \
        | tar -C "$source" -xf -
    "$ROOT$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check --upgrade "$source$extra" || status=$?
    rm -rf "$source"
    [ "$status" = 0 ] || return "$status"
    if [ -n "$ROOT" ]; then relocate_venv; fi
}

# A virtual environment records its own path: in the scripts' #! lines (bin/focusd, bin/pip),
# bin/activate* and pyvenv.cfg, and in the .pyc files (the source path tracebacks show). Built
# under --root, it must name the path it will have once DIR is the root.
relocate_venv() {
    local built="$ROOT$VENV_DIR" file
    grep -rlIZF -e "$built" "$built/bin" "$built/pyvenv.cfg" | while IFS= read -r -d '' file; do
        sed -i "s|$built|$VENV_DIR|g" "$file"
    done
    "$built/bin/python" -m compileall -q -f -s "$ROOT" -p / "$built/lib" >/dev/null
    say "paths in the environment rewritten to $VENV_DIR (it runs once $ROOT is the root)"
}

install_command() {
    install -d -m 0755 "$ROOT$(dirname "$COMMAND_LINK")"
    if [ -e "$ROOT$COMMAND_LINK" ] && [ ! -L "$ROOT$COMMAND_LINK" ]; then
        say "keeping $COMMAND_LINK: it is not focusd's link (run $VENV_DIR/bin/focusd instead)"
        return
    fi
    ln -sfn "$VENV_DIR/bin/focusd" "$ROOT$COMMAND_LINK"   # the path it has once ROOT is the root
    say "the focusd command: $COMMAND_LINK -> $VENV_DIR/bin/focusd"
}

install_config() {
    install -d -m 0755 "$ROOT/etc/focusd"
    if [ -e "$ROOT$CONFIG" ]; then
        say "keeping the existing $CONFIG"
    else
        install -m 0644 "$CHECKOUT/systemd/focusd.toml" "$ROOT$CONFIG"
        say "default configuration at $CONFIG"
    fi
}

install_user() {
    local group file
    if [ -n "$ROOT" ]; then
        # a staging root may have no user database yet
        install -d -m 0755 "$ROOT/etc"
        for file in passwd group shadow gshadow; do [ -e "$ROOT/etc/$file" ] || : > "$ROOT/etc/$file"; done
    fi
    for group in "${GROUPS_NEEDED[@]}"; do
        if ! has_group "$group"; then
            # on a Pi these exist (udev gives the device nodes to them); elsewhere an empty group
            # grants nothing but lets the unit start
            groupadd $(prefix_opt) --system "$group"
            say "created the missing group $group"
        fi
    done
    local list
    list="$(IFS=,; echo "${GROUPS_NEEDED[*]}")"
    if has_user "$NAME"; then
        usermod $(prefix_opt) --append --groups "$list" "$NAME"
        say "user $NAME exists; in groups $list"
    else
        useradd $(prefix_opt) --system --user-group --no-create-home --home-dir "$STATE" \
            --shell /usr/sbin/nologin --comment "focusd camera daemon" --groups "$list" "$NAME"
        say "created the system user $NAME (groups $list)"
    fi
}

# the daemon owns its configuration: it writes the page's settings back (focusd.config.writeback)
own_config_folder() {
    chown "$(uid_of "$NAME"):$(gid_of "$NAME")" "$ROOT/etc/focusd"
    chmod 0755 "$ROOT/etc/focusd"
    say "/etc/focusd belongs to $NAME (it saves the settings changed on the page)"
}

install_web_user() {
    if has_user "$WEB_NAME"; then
        usermod $(prefix_opt) --append --groups "$NAME" "$WEB_NAME"
        say "user $WEB_NAME exists; in group $NAME"
    else
        useradd $(prefix_opt) --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin --comment "focusd viewfinder page" --groups "$NAME" "$WEB_NAME"
        say "created the system user $WEB_NAME (group $NAME: the bridge socket and the captures)"
    fi
}

# installed, never enabled here: [web] enabled = false ships, and the page listens on a network
install_web_unit() {
    install -m 0644 "$CHECKOUT/systemd/focusd-web.service" "$ROOT$WEB_UNIT"
    if systemd_running; then
        systemctl daemon-reload
        if systemctl is-active --quiet focusd-web.service; then
            systemctl restart focusd-web.service
            say "restarted the running viewfinder page"
            return
        fi
    fi
    say "viewfinder page unit installed, not enabled: set [web] enabled = true, run focusd web-password,"
    say "  then: sudo systemctl enable --now focusd-web && sudo systemctl restart focusd"
}

install_unit() {
    install -d -m 0755 "$ROOT/etc/systemd/system"
    install -m 0644 "$CHECKOUT/systemd/focusd.service" "$ROOT$UNIT"
    install -d -m 0755 "$ROOT$PREFIX"
    install -m 0644 "$CHECKOUT/systemd/README.md" "$ROOT$PREFIX/DEPLOYMENT.md"
    if [ -n "$ROOT" ]; then
        systemctl --root="$ROOT" enable focusd.service
    elif systemd_running; then
        systemctl daemon-reload
        systemctl enable focusd.service
        if systemctl is-active --quiet focusd.service; then
            systemctl restart focusd.service
            say "restarted the running service"
        else
            say "enabled; start it now with: sudo systemctl start focusd"
        fi
    else
        systemctl enable focusd.service   # offline (an image being built): links only
        say "systemd is not running here: enabled for the next boot"
    fi
}

do_install() {
    if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
        echo "focusd install: run as root (sudo make install)" >&2; exit 1
    fi
    [ -f "$CHECKOUT/systemd/focusd.toml" ] || { echo "focusd install: systemd/focusd.toml is missing" >&2; exit 1; }
    install_venv
    install_command
    install_config
    install_user
    own_config_folder
    install_web_user
    install_unit
    install_web_unit
    say "done. Status: systemctl status focusd   Logs: journalctl -u focusd -f"
}

# --- uninstall -----------------------------------------------------------------------------
do_uninstall() {
    if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
        echo "focusd uninstall: run as root (sudo make uninstall)" >&2; exit 1
    fi
    local unit
    for unit in focusd-web.service focusd.service; do
        if [ -n "$ROOT" ]; then
            if [ -e "$ROOT/etc/systemd/system/$unit" ]; then systemctl --root="$ROOT" disable "$unit"; fi
        elif systemd_running; then
            systemctl disable --now "$unit" 2>/dev/null || true
        else
            systemctl disable "$unit" 2>/dev/null || true
        fi
    done
    rm -f "$ROOT$UNIT" "$ROOT$WEB_UNIT"
    if [ "$(readlink "$ROOT$COMMAND_LINK" 2>/dev/null)" = "$VENV_DIR/bin/focusd" ]; then rm -f "$ROOT$COMMAND_LINK"; fi
    if systemd_running; then systemctl daemon-reload; fi
    rm -rf "$ROOT$PREFIX"
    say "removed the units, $COMMAND_LINK and $PREFIX"
    if [ "$PURGE" = 1 ]; then
        rm -rf "$ROOT/etc/focusd" "$ROOT$STATE"
        local user
        for user in "$WEB_NAME" "$NAME"; do   # focusd-web first: it is a member of group focusd
            if has_user "$user"; then
                userdel $(prefix_opt) "$user"
            fi
            # userdel drops the user's own group only where login.defs says USERGROUPS_ENAB (Debian
            # does; a bare --root has no login.defs)
            if has_group "$user"; then
                groupdel $(prefix_opt) "$user"
            fi
        done
        say "purged $CONFIG, $STATE (captures) and the users $NAME and $WEB_NAME"
    else
        say "kept $CONFIG, the captures in $STATE and the users $NAME and $WEB_NAME (--purge removes them)"
    fi
}

case "$ACTION" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) echo "usage: install.sh install|uninstall [--root DIR] [--purge] [--pi|--no-pi] [--no-venv] [--no-apt]" >&2; exit 2 ;;
esac
