# Sourced by test.sh and main-job.sh after setup.sh: compiles through ccache (installed by
# setup.sh), so that a rerun on the same machine, from any clone, rebuilds only what
# changed. Paths inside the checkout are hashed relative to it; a first run is unchanged.
# Left off where ccache cannot write its cache (it would fail every compile), or when
# CMAKE_CXX_COMPILER_LAUNCHER is set, even empty. It takes effect when a build folder is
# first configured.
if command -v ccache >/dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER+set}" ]; then
  ccache_dir=$(ccache -k cache_dir 2>/dev/null || true)
  if [ -n "$ccache_dir" ] && mkdir -p "$ccache_dir" 2>/dev/null && [ -w "$ccache_dir" ]; then
    export CMAKE_CXX_COMPILER_LAUNCHER=ccache
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
    export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  fi
  unset ccache_dir
fi
