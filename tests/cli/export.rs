//! Exports to systemd, launchd, supervisord, Procfile and ecosystem, run by the real engines.
