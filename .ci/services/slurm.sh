#!/usr/bin/env bash
# A single-node Slurm cluster on loopback: munged, slurmctld and slurmd, private ports.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/slurm"
conf="$dir/slurm.conf"
host="$(hostname)"
export SLURM_CONF="$conf"

start() {
    need slurm-wlm munge
    mkdir -p "$dir/state" "$dir/spool" /run/munge /var/log/munge /var/lib/munge
    grep -qE "^127\.0\.0\.1\s.*\b$host\b" /etc/hosts || echo "127.0.0.1 $host" >> /etc/hosts
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    if ! munge -n </dev/null >/dev/null 2>&1; then
        (runuser -u munge -- munged --force 2>/dev/null || munged --force)
        wait_for 20 /var/log/munge/munged.log sh -c 'munge -n </dev/null | unmunge'
    fi
    cat > "$conf" <<CONF
ClusterName=wraprun
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    if ! sinfo -h >/dev/null 2>&1; then
        stop_pidfile "$dir/slurmctld.pid"
        stop_pidfile "$dir/slurmd.pid"
        slurmctld -f "$conf"
        wait_for 30 "$dir/slurmctld.log" sinfo -h
    fi
    [ -f "$dir/slurmd.pid" ] && kill -0 "$(cat "$dir/slurmd.pid")" 2>/dev/null || slurmd -f "$conf"
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    wait_for 60 "$dir/slurmd.log" sh -c "sinfo -h -N -o %t | grep -qE '^(idle|mix|alloc)'"
    env_line SLURM_CONF "$conf"
    echo "slurm: ready ($host, $(sinfo -h -N -o '%t'))"
}

stop() {
    stop_pidfile "$dir/slurmd.pid"
    stop_pidfile "$dir/slurmctld.pid"
    echo "slurm: stopped"
}

"${1:-start}"
