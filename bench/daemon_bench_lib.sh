# Shared by the benchmark scripts that run daemons of two builds side by side on tmpfs
# (queued_gpu_jobs.sh, queue_listing.sh); sourced, not run.

# Exits 2 unless each build folder given holds fastgpu.
require_builds() {
  local build
  for build in "$@"; do
    if [[ ! -x $build/fastgpu ]]; then
      echo "missing $build/fastgpu; build it first (--target fastgpu fastgpu-supervisor)" >&2
      exit 2
    fi
  done
}

# Exits 2 unless /dev/shm is a writable folder (the daemons' state goes there).
require_shm() {
  if [[ ! -d /dev/shm || ! -w /dev/shm ]]; then
    echo "needs a writable /dev/shm (tmpfs) for the daemons' state" >&2
    exit 2
  fi
}

# The pid of the daemon that $FASTGPU talks to.
daemon_pid() {
  "$FASTGPU" daemon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# The CPU seconds (user + system) of $DAEMON_PID so far.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$DAEMON_PID/stat"
}
