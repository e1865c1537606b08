#!/bin/bash
# deb/rpm post-remove: electron-builder's own (app-builder-lib/templates/linux/after-remove.tpl;
# a test keeps the two in step), then stop starting at login and stop and remove the system
# agent's unit. Managed policy files, /etc/dta (IT's agent.json) and /var/lib/dta (the
# device's identity) are IT's and stay.
#
# Only on a real removal. This script also runs on an upgrade: deb calls it `postrm upgrade`
# (before the new version's postinst), and rpm calls the OLD package's %postun with $1 = the
# number of versions left (1 on an upgrade) AFTER the new version's %post has run, so undoing
# the install here would undo the new version's (electron-builder issue 7326: the /usr/bin
# link vanished after every rpm upgrade). deb: remove, purge, abort-install, disappear;
# rpm: 0. Our variables are written $name, never with braces (electron-builder's macros).
case "$1" in
  remove|purge|abort-install|disappear|0) removing=yes ;;
  *) removing=no ;;
esac

if [ "$removing" = yes ]; then
# Delete the link to the binary
# update-alternatives --remove <name> <path>: 'path' must be the registered alternative binary,
# not the generic symlink — see https://man7.org/linux/man-pages/man1/update-alternatives.1.html
if type update-alternatives >/dev/null 2>&1; then
    update-alternatives --remove '${executable}' '/opt/${sanitizedProductName}/${executable}'
else
    rm -f '/usr/bin/${executable}'
fi

APPARMOR_PROFILE_DEST='/etc/apparmor.d/${executable}'

# Remove and unload apparmor profile.
if [ -f "$APPARMOR_PROFILE_DEST" ]; then
  # Unload the profile from the running kernel before deleting the file so the
  # policy is not left enforced until the next reboot.  Mirror the chroot guard
  # used in the after-install script — live AppArmor operations are not
  # meaningful inside a chroot.
  # https://wiki.debian.org/AppArmor/HowToUse
  if apparmor_status --enabled > /dev/null 2>&1; then
    if ! { [ -x '/usr/bin/ischroot' ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --remove "$APPARMOR_PROFILE_DEST" || true
    fi
  fi
  rm -f "$APPARMOR_PROFILE_DEST"
fi

fi

# --- Device Trust additions
if [ "$removing" = yes ]; then
  rm -f /etc/xdg/autostart/device-trust-agent.desktop
  if [ -d /run/systemd/system ]; then
    systemctl stop dta-agent.service || true
  fi
  systemctl disable dta-agent.service >/dev/null 2>&1 || true
  rm -f /usr/lib/systemd/system/dta-agent.service
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    systemctl reset-failed dta-agent.service >/dev/null 2>&1 || true
  fi
fi
