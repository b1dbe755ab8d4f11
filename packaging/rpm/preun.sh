# %preun: $1 is the number of versions left, 0 on erase. An upgrade
# detaches nothing: the new version adopts what is pinned.
if [ "$1" = 0 ]; then
  if command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload disable --now rampart.service >/dev/null 2>&1 || true
  fi
  # What rampartd attached to the kernel outlives it by design; it is about
  # to go, so it detaches everything now (refused while an agent runs).
  config=
  if [ -f /etc/rampart/rampart.yaml ]; then
    config="--config /etc/rampart/rampart.yaml"
  fi
  if ! rampartd --detach-all $config; then
    echo "rampart: Rampart is still attached to the kernel (see above): stop any running rampartd, then remove again" >&2
    exit 1
  fi
fi
exit 0
