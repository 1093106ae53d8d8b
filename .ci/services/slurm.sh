#!/usr/bin/env bash
# slurm.sh start|stop: a one-node Slurm cluster on loopback: munged (auth), slurmctld
# and slurmd on private ports, partition "debug". Clients need SLURM_CONF (services.env).
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/slurm"
export SLURM_CONF="$dir/slurm.conf"
host="$(hostname -s)"
node_state() { sinfo -h -N -n "$host" -o %t 2>/dev/null; }

start() {
    env_unset SLURM_CONF
    need slurm-wlm munge
    mkdir -p "$dir/state" "$dir/spool"
    # Slurm binds to what the host name resolves to (NoInAddrAny): make that loopback.
    if [ "$(getent ahostsv4 "$host" | awk 'NR==1 {print $1}')" != 127.0.0.1 ]; then
        { echo "127.0.0.1 $host"; cat /etc/hosts; } >"$dir/hosts" && cat "$dir/hosts" >/etc/hosts
    fi
    start_munge
    write_conf >"$SLURM_CONF.new"
    if replaced "$SLURM_CONF"; then   # new settings need new daemons
        stop_pidfile "$dir/slurmctld.pid"
        stop_pidfile "$dir/slurmd.pid"
    fi
    # Ask sinfo only when slurmctld runs: with no controller it retries for 10 s.
    if ! { running "$dir/slurmctld.pid" && sinfo -h >/dev/null 2>&1; }; then
        stop_pidfile "$dir/slurmctld.pid"
        daemon "$dir/slurmctld.log" slurmctld -f "$SLURM_CONF"
        wait_for -t 30 -l "$dir/slurmctld.log" sinfo -h
    fi
    running "$dir/slurmd.pid" || daemon "$dir/slurmd.log" slurmd -f "$SLURM_CONF"
    # A node that was killed with jobs on it comes back "down": put it back in service.
    wait_for -t 60 -l "$dir/slurmd.log" slurmd_registered
    case "$(node_state)" in down* | drain* | fail*) scontrol update nodename="$host" state=resume || true ;; esac
    wait_for -t 60 -l "$dir/slurmd.log" node_usable
    check_jobs
    env_line SLURM_CONF "$SLURM_CONF"
    echo "slurm: ready (node $host $(node_state), partition debug, SLURM_CONF=$SLURM_CONF)"
}

slurmd_registered() { running "$dir/slurmd.pid" && node_state | grep -qv '\*$'; }
node_usable() { node_state | grep -qE '^(idle|mix|alloc)$'; }

# The system munged (Debian's key and /run/munge socket), as the munge user if it can.
start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
        || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
    chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
    # --force: reuse a stale socket left by a killed munged.
    runuser -u munge -- munged --force 9>&- 2>>"$dir/munged.err" || munged --force 9>&- 2>>"$dir/munged.err"
    wait_for -t 20 -l /var/log/munge/munged.log sh -c 'munge -n </dev/null | unmunge'
}

write_conf() {
    # cons_tres (per-core scheduling) when this Slurm build has it, else whole nodes.
    local select="SelectType=select/cons_tres
SelectTypeParameters=CR_Core"
    compgen -G '/usr/lib/*/slurm*/select_cons_tres.so' >/dev/null || select=SelectType=select/linear
    cat <<CONF
ClusterName=wraprun
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
# Bind the daemons, srun and salloc to 127.0.0.1 (the host name's address), not 0.0.0.0.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# No cgroups here: track processes by /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$select
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

# A real allocation, a step in it, and its cancellation.
check_jobs() {
    local out job
    scancel --name=wraprun-check 2>/dev/null || true   # one a killed slurmctld forgot
    out=$(timeout 60 salloc --no-shell -N1 -t 5 -J wraprun-check 2>&1) || fail "salloc: $out" "$dir/slurmctld.log"
    job=$(sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$job" ] || fail "salloc gave no job id: $out" "$dir/slurmctld.log"
    out=$(timeout 60 srun --jobid="$job" echo hi 2>&1) || true
    scancel "$job"
    [ "$out" = hi ] || fail "srun --jobid=$job echo hi printed: $out" "$dir/slurmd.log"
}

stop() {
    env_unset SLURM_CONF
    # Cancel jobs while slurmd can still kill their steps; then slurmctld before slurmd
    # (the other way round its shutdown waits on RPCs to the dead slurmd); then munged.
    if running "$dir/slurmctld.pid"; then
        scancel --user=root 2>/dev/null || true
        for _ in $(seq 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    stop_pidfile "$dir/slurmctld.pid"
    stop_pidfile "$dir/slurmd.pid"
    munged --stop >/dev/null 2>&1 || true
    echo "slurm: stopped"
}

lock slurm
case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
