mkdir -p /var/lib/rampart /var/log/rampart
chmod 0750 /var/lib/rampart /var/log/rampart
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
