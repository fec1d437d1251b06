#!/usr/bin/env bash
# Stop the cluster started by .ci/slurm_up.sh: cancel its jobs, then end the daemons
# it recorded in $STATE/pids, by PID (each checked to still be that daemon), nothing else.
set -uo pipefail

STATE=${MSC_SLURM_DIR:-/tmp/msc-response-slurm}
export SLURM_CONF=$STATE/slurm.conf
say() { echo "slurm_down: $*" >&2; }

[ -s "$STATE/pids" ] || { say "nothing recorded in $STATE/pids; nothing to stop"; exit 0; }

# Jobs still queued or running on this cluster would outlive slurmd.
if command -v squeue >/dev/null; then
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        say "cancelling jobs $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 20); do
            [ -z "$(timeout 10 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

alive() {  # pid name: running and still the process we started (PIDs get reused)
    [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm")" = "$2" ]
}

# Reverse order of start: slurmd, slurmctld, munged.
tac "$STATE/pids" | while read -r name pid; do
    if ! alive "$pid" "$name"; then
        say "$name ($pid) is not running"
        continue
    fi
    kill -TERM "$pid"
    for _ in $(seq 50); do alive "$pid" "$name" || break; sleep 0.2; done
    if alive "$pid" "$name"; then
        say "$name ($pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid"
    fi
    say "stopped $name ($pid)"
done
rm -f "$STATE/pids" "$STATE/env"
# The link slurm_up.sh made, and only that.
[ "$(readlink /etc/slurm/slurm.conf)" = "$SLURM_CONF" ] && rm -f /etc/slurm/slurm.conf
exit 0
