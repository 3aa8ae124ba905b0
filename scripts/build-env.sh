# Sourced by test.sh and main-job.sh after setup.sh: compiles through ccache (installed by
# setup.sh), so that a rerun on the same machine, from any clone, rebuilds only what
# changed. Paths inside the checkout are hashed relative to it; a first run is unchanged.
# Set CMAKE_CXX_COMPILER_LAUNCHER= (empty) to build without it. It takes effect when a
# build folder is first configured.
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER-ccache}
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
