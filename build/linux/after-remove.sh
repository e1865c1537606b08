#!/bin/sh
# deb/rpm post-remove: stop starting at login. Managed policy files are IT's and stay.
set -e
rm -f /etc/xdg/autostart/device-trust-agent.desktop
