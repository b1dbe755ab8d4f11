# %pre: the agent's system user (docs/running.md), before any file is
# installed. Debian makes it in postinst with adduser.
getent group rampart >/dev/null || groupadd --system rampart
getent passwd rampart >/dev/null || useradd --system --gid rampart --home-dir /var/lib/rampart \
  --no-create-home --shell /sbin/nologin --comment "Rampart agent" rampart
exit 0
