#!/usr/bin/env bash
# An example service for tsm: serves this folder over HTTP on $PORT (python3), or, without
# python3, writes a heartbeat line every few seconds.
PORT=${PORT:-3000} # Required for TSM naming: 3000 unless tsm passes another (--port N)
export PORT

echo "Server starting on port $PORT"
if command -v python3 >/dev/null 2>&1; then
    exec python3 -m http.server "$PORT" --bind 127.0.0.1
fi
while :; do
    echo "heartbeat $(date)"
    sleep 5
done
