# Sourced by the GPU scripts after FASTGPU is set: a state folder and socket of their own in
# a fresh $WORK (named after $1), whatever the caller's environment points at; the daemon is
# stopped and $WORK removed on exit.
WORK=$(mktemp -d "/tmp/fastgpu-$1.XXXXXX")
export XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run
unset FASTGPU_STATE_DIR FASTGPU_SOCKET FASTGPU_DEVICES
mkdir -p "$XDG_RUNTIME_DIR"
trap '"$FASTGPU" daemon stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
