#!/bin/sh
# Run by `cargo xtask rpi-image` once the packages are installed (an
# mmdebstrap customize hook), with the image's root as $1.
set -eu
root="$1"

# Boot from the labelled root (the partition's name is not known in the
# build's chroot), with the console on the GPIO header's serial port (the
# mini UART: ttyS1 on Pi 3, 4 and Zero 2 W; the last console gets the boot
# messages) and on the screen. raspi-firmware writes config.txt and
# cmdline.txt from these; /etc/default/raspi-extra-cmdline adds `ro`.
cat >> "$root/etc/default/raspi-firmware" <<'END'

# Set for the Vitrine image.
ROOTPART="LABEL=vitrine-root"
CONSOLES="tty0 ttyS1,115200"
END
chroot "$root" env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware

# No machine id in the image: every card written from it would share one.
# systemd finds the file empty on the read-only root and uses a new
# transient id each boot. (mmdebstrap's own clean-up empties it too, and
# removes /var/lib/dbus/machine-id, which the build links again after it.)
: > "$root/etc/machine-id"
