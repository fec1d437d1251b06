#!/usr/bin/env bash
# Start a one-node SLURM cluster on 127.0.0.1 for the `slurm` tests (no slurmdbd).
#
#   .ci/slurm_up.sh            # installs Debian's slurm + munge if missing (as root)
#   .ci/slurm_up.sh --no-install   # the same, but fail instead of installing
#   . "$STATE/env"             # SLURM_CONF for sinfo/sbatch/snakemake (STATE below)
#   .ci/slurm_down.sh          # stops only the daemons this script started
#
# Everything lives in $MSC_SLURM_DIR (default /tmp/msc-response-slurm): slurm.conf,
# spool and state directories, daemon logs, the job-completion log (jobcomp.log) and
# `pids`, the processes started here. /etc/slurm/slurm.conf, if absent, becomes a link
# to our slurm.conf (see below). If a cluster from this directory is already up, the
# script says so and leaves it alone.
set -euo pipefail

INSTALL=yes
[ "${1:-}" = "--no-install" ] && INSTALL=no
STATE=${MSC_SLURM_DIR:-/tmp/msc-response-slurm}
CONF=$STATE/slurm.conf
NODE=msc-node
PARTITION=debug
export SLURM_CONF=$CONF

say() { echo "slurm_up: $*" >&2; }
die() { say "$*"; exit 1; }

node_state() { timeout 10 sinfo -h -n "$NODE" -o %t 2>/dev/null; }
node_idle() { [ "$(node_state)" = idle ]; }

# Up already: the node answers (idle, or busy with jobs).
if [ -f "$CONF" ] && command -v sinfo >/dev/null \
    && [[ "$(node_state)" =~ ^(idle|mix|mixed|alloc|allocated|comp|completing)$ ]]; then
    say "already running ($CONF); nothing started"
    echo "SLURM_CONF=$CONF"
    exit 0
fi

# 1. Packages (Debian 12: slurm 22.05, munge 0.5).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    [ "$INSTALL" = yes ] || die "slurmctld/slurmd/slurm-client/munge are not installed: run .ci/slurm_up.sh as root (installs them with apt-get)"
    [ "$(id -u)" = 0 ] || die "slurmctld/slurmd/slurm-client/munge are not installed and this is not root: run 'apt-get install slurmctld slurmd slurm-client munge' as root, or run this script as root"
    command -v apt-get >/dev/null || die "slurm is not installed and there is no apt-get to install it"
    say "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
[ "$(id -u)" = 0 ] || die "the daemons must be started as root (munged as user munge, slurmd as root)"

# Daemons of an earlier start that no longer answers: stop them (by their PIDs) first.
if [ -s "$STATE/pids" ]; then
    say "stopping what an earlier start left ($STATE/pids)"
    "$(dirname "$0")/slurm_down.sh"
fi

# Snakemake's jobstep plugin clears SLURM_* (SLURM_CONF too) before its `srun` inside a
# job, so that srun reads the default /etc/slurm/slurm.conf: link ours there, unless
# the machine has its own (then that cluster is to be used, not a second one).
ETC_CONF=/etc/slurm/slurm.conf
if [ ! -e "$ETC_CONF" ] && [ ! -L "$ETC_CONF" ]; then
    mkdir -p /etc/slurm
    ln -s "$CONF" "$ETC_CONF"
elif [ "$(readlink "$ETC_CONF")" != "$CONF" ]; then
    die "$ETC_CONF belongs to another SLURM set-up: use that cluster (jobs' srun reads $ETC_CONF), or move the file away to use this script"
fi

mkdir -p "$STATE"/{ctld,d,log}
: >"$STATE/pids"

# 2. munge: one key, daemon as user munge. A munged already answering is reused (and
# not recorded, so slurm_down.sh leaves it running).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --force
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    [ -s /run/munge/munged.pid ] || die "munged did not start (see /var/log/munge/munged.log)"
    echo "munged $(cat /run/munge/munged.pid)" >>"$STATE/pids"
    munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf for this machine: CPUs and memory as slurmd detects them.
hw=$(slurmd -C | head -1)
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
[ -n "$cpus" ] && [ -n "$memory" ] || die "cannot read CPUs/RealMemory from 'slurmd -C': $hw"
host=$(hostname -s)
cat >"$CONF" <<EOF
# Written by .ci/slurm_up.sh: one node on 127.0.0.1 for tests; no accounting database.
ClusterName=msc-response-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in containers: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs are appended here (JobId=.. JobState=COMPLETED ..): the tests read it.
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
# Cores and memory are consumable, so jobs share the node by their requests.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# squeue must still show a finished job when Snakemake asks (>= 3x its first check).
MinJobAge=600
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

# 4. Daemons; each writes its PID file, recorded for slurm_down.sh.
start() {  # name, pid file, command...
    local name=$1 pidfile=$2
    shift 2
    rm -f "$pidfile"
    "$@"
    for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.1; done
    [ -s "$pidfile" ] || die "$name did not start (see $STATE/log/$name.log)"
    echo "$name $(cat "$pidfile")" >>"$STATE/pids"
}
start slurmctld "$STATE/slurmctld.pid" slurmctld -f "$CONF"
start slurmd "$STATE/slurmd.pid" slurmd -f "$CONF" -N "$NODE"

# 5. Wait until the node takes jobs.
for _ in $(seq 60); do
    if node_idle; then
        {
            echo "export SLURM_CONF=$CONF"
        } >"$STATE/env"
        say "node $NODE idle ($cpus CPUs, $memory MB); pids: $(cut -d' ' -f2 "$STATE/pids" | tr '\n' ' ')"
        echo "SLURM_CONF=$CONF"
        exit 0
    fi
    sleep 1
done
say "node $NODE not idle after 60 s: $(sinfo -h -o '%n %t %E' 2>&1 || true)"
tail -5 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
exit 1
