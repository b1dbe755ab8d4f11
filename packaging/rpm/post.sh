# %post: after install (1) or upgrade (2). The user was made in %pre.
mkdir -p /var/lib/rampart /var/log/rampart
chown rampart:rampart /var/lib/rampart /var/log/rampart
chmod 0700 /var/lib/rampart /var/log/rampart
# The distribution's presets decide whether the unit is enabled on a first
# install (as %systemd_post does).
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload preset rampart.service >/dev/null 2>&1 || true
fi
exit 0
