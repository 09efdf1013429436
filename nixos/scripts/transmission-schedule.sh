# Apply the Transmission speed limits of the schedule window that contains
# the current local time. Run by transmission-schedule.service at each
# window's start (timers with Persistent=true) and after transmission
# starts, so the right mode holds after a reboot too.
#
# Usage: transmission-schedule SCHEDULE_JSON HOST:PORT RPC_USER
#   SCHEDULE_JSON  [{"name","start","end","downloadKBps","uploadKBps"}, ...]
#                  (homelab.transmission.schedule, kB/s, 1 kB = 1000 bytes)
#   The RPC password is read from $CREDENTIALS_DIRECTORY/rpc-password and
#   given to transmission-remote through TR_AUTH (--authenv), never argv.
#
# Only speed-limit-down/up change (-d/-u also enable each limit, so an
# upload of 0 means "limited to 0", not unlimited); the alternative
# ("turtle") limits stay free for manual pausing.
set -euo pipefail

schedule="$1"
rpc="$2"
user="$3"

minutes() {
  local hh="${1%%:*}" mm="${1##*:}"
  echo $((10#$hh * 60 + 10#$mm))
}

now="$(minutes "$(date +%H:%M)")"

mode=""
while read -r name start end down up; do
  s="$(minutes "$start")"
  e="$(minutes "$end")"
  # A window ending at 00:00 ends at midnight; one that ends before it
  # starts wraps past midnight.
  if [ "$e" -eq 0 ]; then e=1440; fi
  if [ "$s" -lt "$e" ]; then
    if [ "$now" -ge "$s" ] && [ "$now" -lt "$e" ]; then mode="$name $down $up"; break; fi
  elif [ "$now" -ge "$s" ] || [ "$now" -lt "$e" ]; then
    mode="$name $down $up"
    break
  fi
done < <(jq -r '.[] | "\(.name) \(.start) \(.end) \(.downloadKBps) \(.uploadKBps)"' "$schedule")

if [ -z "$mode" ]; then
  echo "transmission-schedule: no window of $schedule covers $(date +%H:%M)" >&2
  exit 1
fi
read -r name down up <<<"$mode"

TR_AUTH="$user:$(<"$CREDENTIALS_DIRECTORY/rpc-password")"
export TR_AUTH

# Right after boot the daemon may not answer yet.
for _ in $(seq 1 30); do
  if transmission-remote "$rpc" --authenv --downlimit "$down" --uplimit "$up" >/dev/null; then
    echo "transmission-schedule: $name mode, download ${down} kB/s, upload ${up} kB/s"
    exit 0
  fi
  sleep 2
done
echo "transmission-schedule: could not reach Transmission at $rpc" >&2
exit 1
