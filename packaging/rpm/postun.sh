# %postun: $1 is the number of versions left. An upgrade restarts a running
# agent on the new version (as %systemd_postun_with_restart does); an erase
# keeps the state, as RPM does.
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null 2>&1 || true
  if [ "$1" -ge 1 ]; then
    systemctl try-restart rampart.service >/dev/null 2>&1 || true
  fi
fi
exit 0
