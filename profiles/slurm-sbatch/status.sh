#!/usr/bin/env bash
# Job status for Snakemake's cluster-generic executor: prints running, success or failed.
# sacct where the site keeps accounting; else slurmctld's memory of recent jobs
# (scontrol, which forgets a job MinJobAge seconds after it ended).
set -uo pipefail
job=${1%%;*}  # `sbatch --parsable` may print "jobid;cluster"

state=$(sacct -j "$job" -X -n -P -o State 2>/dev/null | head -1 | cut -d' ' -f1)
if [ -z "$state" ]; then
    state=$(scontrol -o show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
fi
case "$state" in
    COMPLETED) echo success ;;
    PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | REQUEUED | REQUEUE_HOLD | REQUEUE_FED | RESIZING | SIGNALING | STAGE_OUT | STOPPED)
        echo running ;;
    "")
        echo "status.sh: SLURM knows no job $job (any more)" >&2
        echo failed ;;
    *) echo failed ;;  # FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...
esac
