#!/usr/bin/env bash
# Runs a test server so that it cannot outlive the test process that started it.
# The test process holds the write end of this script's stdin; when that process goes away for
# any reason (test failure, Ctrl-C, SIGKILL of a worker), stdin reaches EOF and the server is
# stopped: SIGTERM, then SIGKILL after a grace period.
set -u
"$@" </dev/null &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$child" 2>/dev/null
}
trap 'stop; wait "$child" 2>/dev/null; exit 143' TERM INT
while kill -0 "$child" 2>/dev/null; do
  # read returns >128 on timeout (parent still there) and 1 on EOF (parent gone).
  read -r -t 1 _
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -le 128 ]; then stop; break; fi
done
wait "$child"
