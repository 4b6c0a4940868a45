#!/usr/bin/env bash
#
# A real Slurm cluster on this host, built and torn down by this script, runs
# a template of launch/slurm/ (ctxpar-one-node.sbatch by default): munged,
# slurmctld and slurmd from Debian's packages, every key, config, socket,
# spool and log in one temporary directory, ports picked free, no systemd and
# no cgroup plugins, so it works in a bare CI container. The job must end
# COMPLETED with exit code 0:0 and write a complete features file whose
# token records and features equal, bit for bit, the same run started by
# mpirun with the same rank and thread counts (docs/design.md, "Correctness
# rules": the same rank count gives identical files). The daemons are
# stopped by the PIDs this script recorded.
#
# Two nodes (CTXPAR_SLURM_NODES=2) need two slurmd on this one host, one per
# node name (slurmd -N NAME, each on its own port), which only a Slurm built
# with --enable-multiple-slurmd allows. The script probes for it (slurmd -V,
# the MULTIPLE_SLURMD flag scontrol reports for such builds) and otherwise
# runs the job on one node and says so in its output.
#
#   CTXPAR_BIN=build/ctxpar bash tests/slurm/run_slurm_test.sh
#
# Environment: CTXPAR_BIN (required), CTXPAR_SLURM_TEMPLATE (a file name in
# launch/slurm/, default ctxpar-one-node.sbatch), CTXPAR_SLURM_NODES (nodes
# the job asks for, 1 or 2, default 1), CTXPAR_SLURM_TASKS (ranks in all,
# default 2, a multiple of the nodes), CTXPAR_SLURM_MPI (srun's MPI plugin,
# default pmix), CTXPAR_SLURM_KEEP=1 keeps the temporary directory,
# CTXPAR_SLURM_PREEMPT=1 also cancels a running job and checks that it stops
# at once and leaves nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
template=$repo/launch/slurm/${CTXPAR_SLURM_TEMPLATE:-ctxpar-one-node.sbatch}
tasks=${CTXPAR_SLURM_TASKS:-2}
nodes=${CTXPAR_SLURM_NODES:-1}
job_timeout_s=180

say() { echo "slurm test: $*"; }
# Client commands wait on munge and slurmctld; none may hang the test.
bounded() { timeout 20 "$@"; }
die() { echo "slurm test: FAIL: $*" >&2; exit 1; }

[[ -n "${CTXPAR_BIN:-}" && -x "$CTXPAR_BIN" ]] || die "CTXPAR_BIN must name the ctxpar program (got '${CTXPAR_BIN:-}')"
ctxpar_bin=$(cd "$(dirname "$CTXPAR_BIN")" && pwd)/$(basename "$CTXPAR_BIN")
[[ -r "$template" ]] || die "no template at $template"
[[ "$nodes" == 1 || "$nodes" == 2 ]] || die "CTXPAR_SLURM_NODES must be 1 or 2 (got '$nodes')"
((tasks % nodes == 0)) || die "CTXPAR_SLURM_TASKS ($tasks) must be a multiple of CTXPAR_SLURM_NODES ($nodes)"

# --- packages ---------------------------------------------------------------
# Slurm's mpi/pmix plugin dlopens libpmix.so, which only libpmix-dev ships.
packages=(slurm-wlm munge libpmix-dev)
missing=()
for p in "${packages[@]}"; do
  command -v dpkg-query >/dev/null || break  # not Debian: the tool check below decides
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    die "packages ${missing[*]} are missing and installing them needs root: run 'sudo apt-get install ${missing[*]}' (or bash launch/setup.sh --test as root)"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}"; } ||
    die "apt-get install ${missing[*]} failed"
fi
for tool in munged munge unmunge slurmctld slurmd sbatch sinfo scontrol scancel; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || die "$tool not found after installing slurm-wlm and munge"
done
export PATH=$PATH:/usr/sbin

# --- temporary cluster directory --------------------------------------------
# Under /tmp, not the build tree: a munge socket path must stay short (108 bytes).
work=$(mktemp -d "${TMPDIR:-/tmp}/ctxpar-slurm.XXXXXX")
chmod 711 "$work"  # others may reach the munge socket, never list or read
mkdir -p "$work"/{munge,state,spool,log,job,tmp}
munged_pid="" slurmctld_pid="" slurmd_pids=() job_id="" cluster_conf="" ok=0
node_names=()

show_logs() {
  local d f files=("$work/log/munged.out")
  # In the foreground slurmctld and slurmd copy their log to stderr; the .out
  # file matters only when one died before it opened its log.
  for d in slurmctld "${node_names[@]/#/slurmd-}"; do
    if [[ -s "$work/log/$d.log" ]]; then files+=("$work/log/$d.log"); else files+=("$work/log/$d.out"); fi
  done
  for f in "${files[@]}" "$work"/job/*.out; do
    [[ -s "$f" ]] || continue
    echo "----- ${f#"$work"/} (last 60 lines) -----"
    tail -n 60 "$f"
  done
}

stop_pid() {  # stop_pid NAME PID: SIGTERM, wait up to 15 s, then SIGKILL
  local name=$1 pid=$2 i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Steps a lost controller could not cancel outlive slurmd (slurmstepd is not
# its child). Every process of this cluster's jobs carries its SLURM_CONF, so
# that finds exactly them; builtins only, so the scan never finds itself.
stop_strays() {
  local p i env strays=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$p" == "$$" ]] && continue
    mapfile -d '' env 2>/dev/null <"/proc/$p/environ" || continue
    [[ " ${env[*]} " == *" SLURM_CONF=$cluster_conf "* ]] && strays+=("$p")
  done
  ((${#strays[@]})) || return 0
  say "stopping processes left by the cluster: ${strays[*]}"
  kill -TERM "${strays[@]}" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    kill -0 "${strays[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "${strays[@]}" 2>/dev/null
  return 0
}

cleanup() {
  local rc=$? state deadline
  set +e
  if [[ -n "$job_id" && -n "$slurmctld_pid" ]] && kill -0 "$slurmctld_pid" 2>/dev/null; then
    # A job still running would leave slurmstepd and ranks behind slurmd.
    state=$(bounded scontrol show job "$job_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*')
    if [[ "$state" =~ ^JobState=(PENDING|CONFIGURING|RUNNING|COMPLETING)$ ]]; then
      say "cancelling job $job_id ($state)"
      bounded scancel "$job_id"
      deadline=$((SECONDS + 30))
      while ((SECONDS < deadline)); do
        state=$(bounded scontrol show job "$job_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*')
        [[ "$state" =~ ^JobState=(CONFIGURING|RUNNING|COMPLETING)$ ]] || break
        sleep 1
      done
    fi
  fi
  if ((rc != 0 || ok == 0)); then
    echo "slurm test: failed; logs from $work:" >&2
    show_logs >&2
  fi
  for p in "${slurmd_pids[@]}"; do stop_pid slurmd "$p"; done
  stop_pid slurmctld "$slurmctld_pid"
  stop_pid munged "$munged_pid"
  [[ -n "$cluster_conf" ]] && stop_strays
  if ((rc == 0 && ok == 1)) && [[ "${CTXPAR_SLURM_KEEP:-0}" != 1 ]]; then
    rm -rf "$work"
  else
    echo "slurm test: kept $work" >&2
  fi
  ((rc == 0 && ok == 0)) && rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- munge ------------------------------------------------------------------
# In the foreground munged logs to stderr (log/munged.out); --log-file is
# where it would go otherwise.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
socket=$work/munge/munge.socket
force=()
[[ $(id -u) -eq 0 ]] && force=(--force)
munged --foreground "${force[@]}" --key-file="$work/munge/munge.key" --socket="$socket" \
       --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
       --seed-file="$work/munge/munged.seed" >"$work/log/munged.out" 2>&1 &
munged_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -S "$socket" ]] && break
  kill -0 "$munged_pid" 2>/dev/null || die "munged exited at start"
  sleep 0.1
done
timeout 20 munge -n -S "$socket" | timeout 20 unmunge -S "$socket" >/dev/null || die "munge credential round trip failed"

# --- two slurmd on one host? -------------------------------------------------
# Builds with --enable-multiple-slurmd list MULTIPLE_SLURMD among the keys of
# `scontrol show config` (the string is compiled in only then); without it
# slurmd ignores per-node ports and every slurmd on a host claims the same
# one, so a second node name cannot run here.
host=$(hostname -s)
slurm_version=$(slurmd -V 2>&1 | head -n 1)
multiple_slurmd=0 node_note=""
for lib in /usr/lib/*/slurm-wlm/libslurmfull.so /usr/lib/slurm-wlm/libslurmfull.so /usr/lib*/slurm/libslurmfull.so; do
  [[ -r "$lib" ]] || continue
  grep -aq 'MULTIPLE_SLURMD' "$lib" && multiple_slurmd=1
  break
done
node_names=("$host")
if ((nodes == 2)); then
  if ((multiple_slurmd)); then
    node_names=(ctxpar-n1 ctxpar-n2)
    say "$slurm_version supports several slurmd per host: nodes ${node_names[*]} on $host"
  else
    say "NOTE: $slurm_version was built without --enable-multiple-slurmd: it cannot run two slurmd on one host, so the two-node job runs on one node"
    nodes=1
    node_note=" (NOTE: two nodes were asked for, but this Slurm build cannot run two slurmd on one host)"
  fi
fi

# --- slurm.conf -------------------------------------------------------------
ports=$(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
read -r ctld_port slurmd_port node_port1 node_port2 <<<"$ports"
node_ports=("$node_port1" "$node_port2")
# The node as slurmd sees it (CPUs, sockets, cores, threads, memory), so the
# controller never drains it for a mismatch.
node_hw=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
node_slurmd_params=""
node_cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_hw")
tasks_per_node=$((tasks / nodes))
if ((tasks_per_node > ${node_cpus:-1})); then
  # More ranks than CPUs (a one-core runner): declare as many CPUs as ranks,
  # tell slurmd to believe the configuration, and let idle ranks yield.
  node_memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_hw")
  node_hw="CPUs=$tasks_per_node Boards=1 SocketsPerBoard=1 CoresPerSocket=$tasks_per_node ThreadsPerCore=1 RealMemory=${node_memory:-1}"
  node_slurmd_params="SlurmdParameters=config_overrides"
  export OMPI_MCA_mpi_yield_when_idle=1
fi
user=$(id -un)
# Open MPI names its shared-memory segments after the Slurm job id, so two
# clusters on one host (two test runs at once) must not hand out the same ids.
first_job_id=$((1000 + (RANDOM * 32768 + RANDOM) % 60000000))
cat >"$work/slurm.conf" <<EOF
ClusterName=ctxpartest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd-%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$work/plugstack.conf
TmpFS=$work/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
KillWait=5
MinJobAge=600
FirstJobId=$first_job_id
$node_slurmd_params
$(if ((${#node_names[@]} == 1)); then
    echo "NodeName=$host NodeAddr=127.0.0.1 $node_hw State=UNKNOWN"
  else
    for i in "${!node_names[@]}"; do
      echo "NodeName=${node_names[$i]} NodeHostname=$host NodeAddr=127.0.0.1 Port=${node_ports[$i]} $node_hw State=UNKNOWN"
    done
  fi)
PartitionName=test Nodes=$(IFS=,; echo "${node_names[*]}") Default=YES MaxTime=INFINITE State=UP
EOF
# Per node (%n), as on separate hosts: the PMIx plugin names its step
# directories after the job and step only, so nodes sharing one would clash.
for n in "${node_names[@]}"; do mkdir -p "$work/spool/$n" "$work/tmp/$n"; done
: >"$work/plugstack.conf"
cluster_conf=$work/slurm.conf
export SLURM_CONF=$cluster_conf

# --- daemons ----------------------------------------------------------------
slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
slurmctld_pid=$!
for n in "${node_names[@]}"; do
  slurmd -D -N "$n" -f "$SLURM_CONF" >"$work/log/slurmd-$n.out" 2>&1 &
  slurmd_pids+=($!)
done
say "munged $munged_pid, slurmctld $slurmctld_pid, slurmd ${slurmd_pids[*]}; ports $ctld_port/$slurmd_port; $work"

all_nodes=$(IFS=,; echo "${node_names[*]}")
states="" n_idle=0 deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  kill -0 "$slurmctld_pid" 2>/dev/null || die "slurmctld exited at start"
  for p in "${slurmd_pids[@]}"; do kill -0 "$p" 2>/dev/null || die "slurmd (pid $p) exited at start"; done
  states=$(bounded sinfo -h -N -n "$all_nodes" -o '%N=%T' 2>/dev/null | sort -u | tr '\n' ' ' || true)
  n_idle=0
  for st in $states; do [[ "$st" == *=idle ]] && n_idle=$((n_idle + 1)); done
  ((n_idle == ${#node_names[@]})) && break
  sleep 1
done
((n_idle == ${#node_names[@]})) || die "nodes $all_nodes not all idle after 60 s (states '${states:-none}')"
if ((${#node_names[@]} > 1)); then
  ctld_config=$(bounded scontrol show config 2>/dev/null) || ctld_config=""
  grep -Eq '^MULTIPLE_SLURMD +=' <<<"$ctld_config" ||
    die "two slurmd run, but scontrol does not report MULTIPLE_SLURMD"
fi
say "node(s) $all_nodes idle"

# --- the job ----------------------------------------------------------------
out=$work/job/features.h5
mpi_plugin=${CTXPAR_SLURM_MPI:-pmix}
export CTXPAR_BIN=$ctxpar_bin CTXPAR_SLURM_MPI=$mpi_plugin CTXPAR_DEVICE=cpu
# TMPDIR keeps Open MPI's session directories in the cluster directory too;
# TmpFS above does the same for the PMIx plugin's per-step directories.
run_args=(--preset tiny --frames 16 --size 64x64)
job_id=$(TMPDIR=$work/tmp bounded sbatch --parsable --nodes="$nodes" --ntasks-per-node="$tasks_per_node" --cpus-per-task=1 \
                --time=5 --chdir="$work/job" --output="$work/job/ctxpar-%j.out" \
                "$template" "${run_args[@]}" --out "$out" --overwrite) ||
  die "sbatch refused the job"
job_id=${job_id%%;*}
say "submitted job $job_id ($tasks ranks on $nodes node(s), $(basename "$template"))"

job_state="" unanswered=0 deadline=$((SECONDS + job_timeout_s))
while ((SECONDS < deadline)); do
  kill -0 "$slurmctld_pid" 2>/dev/null || die "slurmctld exited while job $job_id ran"
  for p in "${slurmd_pids[@]}"; do kill -0 "$p" 2>/dev/null || die "slurmd (pid $p) exited while job $job_id ran"; done
  job_state=$(bounded scontrol show job "$job_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2) || job_state=""
  if [[ -z "$job_state" ]]; then
    ((++unanswered < 15)) || die "scontrol show job $job_id got no answer 15 times in a row"
  else
    unanswered=0
  fi
  case "$job_state" in
    PENDING | CONFIGURING | RUNNING | COMPLETING | "") sleep 1 ;;
    *) break ;;
  esac
done
job_info=$(bounded scontrol show job "$job_id" 2>&1) || true
exit_code=$(grep -o ' ExitCode=[0-9:]*' <<<"$job_info" | cut -d= -f2) || exit_code=
job_log=$work/job/ctxpar-$job_id.out
say "job $job_id: JobState=$job_state ExitCode=$exit_code"

[[ -n "$job_state" ]] || die "job $job_id: scontrol gave no state (waited up to ${job_timeout_s}s)"
[[ "$job_state" == COMPLETED ]] || die "job $job_id: JobState=$job_state (waited up to ${job_timeout_s}s), expected COMPLETED"
[[ "$exit_code" == 0:0 ]] || die "job $job_id exit code $exit_code, expected 0:0"
[[ -s "$job_log" ]] || die "no job log at $job_log"
grep -q "^# srun --mpi=$mpi_plugin " "$job_log" || die "the job log does not show srun --mpi=$mpi_plugin"
grep -q "^# ctxpar summary: $tasks ranks" "$job_log" || die "the job log has no run summary for $tasks ranks"
grep -q "^wrote $out" "$job_log" || die "the job log does not report writing $out"
[[ -f "$out" ]] || die "no output file $out"

inspect=$(timeout 60 "$ctxpar_bin" inspect "$out") || die "ctxpar inspect $out failed"
grep -Eq '^complete +1$' <<<"$inspect" || die "$out is not marked complete"
grep -Eq "^ranks +$tasks\$" <<<"$inspect" || die "$out does not record $tasks ranks"
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  /usr/bin/python3 - "$out" <<'EOF' || die "h5py check of $out failed"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert int(f["/"].attrs["complete"]) == 1, "complete != 1"
    assert f["tokens/features"].shape[0] == int(f["/"].attrs["records"]) > 0
EOF
fi

if ((nodes > 1)); then
  job_nodes=$(grep -o ' NodeList=[^ ]*' <<<"$job_info" | head -n 1 | cut -d= -f2)
  [[ "$job_nodes" == "ctxpar-n[1-2]" ]] || die "job $job_id ran on '$job_nodes', expected both nodes ctxpar-n[1-2]"
fi

# --- the same run under mpirun ------------------------------------------------
# Same ranks, same threads (the template passes --threads $SLURM_CPUS_PER_TASK,
# 1 here), same arguments: the token records and features must be identical.
mpirun_out=$work/job/mpirun.h5
mpirun_log=$work/job/mpirun.out
mpiexec=$(command -v mpirun || command -v mpiexec) || die "no mpirun to compare the job with"
env -u SLURM_CONF TMPDIR="$work/tmp" timeout 120 "$mpiexec" --oversubscribe -np "$tasks" "$ctxpar_bin" \
    --threads 1 --device cpu "${run_args[@]}" --out "$mpirun_out" --overwrite --quiet >"$mpirun_log" 2>&1 ||
  { cat "$mpirun_log" >&2; die "the same run under mpirun failed"; }
/usr/bin/python3 - "$out" "$mpirun_out" <<'EOF' || die "the job's output differs from the same run under mpirun"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    names = sorted(a["tokens"])
    assert names == sorted(b["tokens"]), "datasets %s vs %s" % (names, sorted(b["tokens"]))
    for k in names:
        x, y = a["tokens/" + k][()], b["tokens/" + k][()]
        assert x.shape == y.shape, "tokens/%s: shape %s under srun, %s under mpirun" % (k, x.shape, y.shape)
        if not np.array_equal(x, y):
            d = np.abs(x.astype(np.float64) - y.astype(np.float64))
            raise AssertionError("tokens/%s: %d of %d values differ (max %.3g)" % (k, (d > 0).sum(), d.size, d.max()))
    assert a.attrs["ranks"] == b.attrs["ranks"], "ranks %s vs %s" % (a.attrs["ranks"], b.attrs["ranks"])
    print("slurm test: srun and mpirun outputs identical: %d records, features %s" % (
        a["tokens/size"].shape[0], a["tokens/features"].shape))
EOF

grep -E '^(# ctxpar summary|frames|wall)' "$job_log" | sed 's/^/  /'
say "PASS: job $job_id COMPLETED 0:0 through srun --mpi=$mpi_plugin on $nodes node(s), $out complete and equal to the mpirun run$node_note"

# --- preemption ---------------------------------------------------------------
# With CTXPAR_SLURM_PREEMPT=1: a longer job is cancelled mid-run (scancel sends
# SIGTERM to every task, as preemption does). Every rank must report the
# signal, the job must end within seconds (well before KillWait's SIGKILL),
# and nothing may be left at the output path.
if [[ "${CTXPAR_SLURM_PREEMPT:-0}" == 1 ]]; then
  out2=$work/job/preempted.h5
  job2=$(TMPDIR=$work/tmp bounded sbatch --parsable --nodes="$nodes" --ntasks-per-node="$tasks_per_node" --cpus-per-task=1 \
             --time=5 --chdir="$work/job" --output="$work/job/ctxpar-%j.out" \
             "$template" --preset small --frames 128 --size 256x256 --out "$out2") ||
    die "sbatch refused the preemption job"
  job2=${job2%%;*}
  log2=$work/job/ctxpar-$job2.out
  say "submitted job $job2 to cancel once it is in its VAE stage"
  deadline=$((SECONDS + job_timeout_s))
  until grep -q ' vae ' "$log2" 2>/dev/null; do
    ((SECONDS < deadline)) || die "job $job2 never reached its VAE stage"
    sleep 0.5
  done
  cancelled_at=$SECONDS
  bounded scancel "$job2" || die "scancel $job2 failed"
  state2=""
  while ((SECONDS < deadline)); do
    state2=$(bounded scontrol show job "$job2" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2) || state2=""
    [[ "$state2" == CANCELLED ]] && ! pgrep -f -- "--out $out2" >/dev/null && break
    sleep 0.5
  done
  took=$((SECONDS - cancelled_at))
  say "job $job2: JobState=$state2, stopped ${took}s after scancel"
  [[ "$state2" == CANCELLED ]] || die "job $job2: JobState=$state2 after scancel, expected CANCELLED"
  ((took <= 15)) || die "job $job2 took ${took}s to stop after scancel (bound 15 s)"
  n_stopped=$(grep -c 'stopped by SIGTERM (exit 143)' "$log2") || n_stopped=0
  ((n_stopped == tasks)) || die "$n_stopped of $tasks ranks reported SIGTERM in $log2"
  [[ ! -e "$out2" && ! -e "$out2.ctxpar-partial" ]] || die "the cancelled job left a file at $out2"
  say "PASS: cancelled job $job2 stopped in ${took}s; every rank reported SIGTERM; nothing at $out2"
fi
ok=1
