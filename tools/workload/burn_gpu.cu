// fastgpu-burn: a GPU workload for examples, tests and benchmarks. It allocates the requested
// device memory with plain cudaMalloc (never managed memory), touches all of it, and runs a
// tiled shared-memory SGEMM in a loop until the time is up. Out of memory exits 3, any other
// CUDA error 4. See docs/workload.md.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "burn_common.h"

namespace {

using namespace fastgpu::workload;

constexpr int kTile = 64;     // each block computes a 64 x 64 tile of C
constexpr int kSlice = 16;    // k-width of the tiles staged in shared memory
constexpr int kThreads = 16;  // 16 x 16 threads per block, each 4 x 4 outputs
constexpr int kPerThread = kTile / kThreads;
constexpr std::uint64_t kChunkBytes = std::uint64_t{1} << 30;  // ballast cudaMalloc size
constexpr double kBatchSeconds = 0.2;  // launches between two syncs, aimed at this long

// C = A * B, n x n row-major. REQUIRES: n % kTile == 0, blockDim (16, 16), grid (n/64, n/64).
// Thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j of the tile, so a warp reads
// consecutive shared-memory columns and writes consecutive global columns.
__global__ void sgemm_tiled(const float* a, const float* b, float* c, int n) {
  __shared__ float a_tile[kSlice][kTile + 1];  // transposed: [k][row]; +1 spreads the banks
  __shared__ float b_tile[kSlice][kTile + 1];  // [k][column]
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const int thread_id = ty * kThreads + tx;
  const int row0 = blockIdx.y * kTile;
  const int col0 = blockIdx.x * kTile;
  float acc[kPerThread][kPerThread] = {};
  for (int k0 = 0; k0 < n; k0 += kSlice) {
    for (int i = thread_id; i < kTile * kSlice; i += kThreads * kThreads) {
      a_tile[i % kSlice][i / kSlice] = a[(row0 + i / kSlice) * n + k0 + i % kSlice];
      b_tile[i / kTile][i % kTile] = b[(k0 + i / kTile) * n + col0 + i % kTile];
    }
    __syncthreads();
    for (int k = 0; k < kSlice; ++k) {
      float a_frag[kPerThread];
      float b_frag[kPerThread];
      for (int i = 0; i < kPerThread; ++i) a_frag[i] = a_tile[k][ty + kThreads * i];
      for (int j = 0; j < kPerThread; ++j) b_frag[j] = b_tile[k][tx + kThreads * j];
      for (int i = 0; i < kPerThread; ++i) {
        for (int j = 0; j < kPerThread; ++j) acc[i][j] += a_frag[i] * b_frag[j];
      }
    }
    __syncthreads();
  }
  for (int i = 0; i < kPerThread; ++i) {
    for (int j = 0; j < kPerThread; ++j) {
      c[(row0 + ty + kThreads * i) * n + col0 + tx + kThreads * j] = acc[i][j];
    }
  }
}

// Multiples of 1/8 in [-0.75, 0.75]: sums of their products stay exact in float, so the
// self-check can compare for equality.
__host__ __device__ float fill_value(std::uint64_t i, std::uint64_t seed) {
  return static_cast<float>(static_cast<int>((i * 7 + seed) % 13) - 6) / 8.0f;
}

__global__ void fill_matrix(float* m, std::uint64_t count, std::uint64_t seed) {
  const std::uint64_t i = blockIdx.x * std::uint64_t{blockDim.x} + threadIdx.x;
  if (i < count) m[i] = fill_value(i, seed);
}

[[noreturn]] void die(cudaError_t error, const std::string& what) {
  if (error == cudaErrorMemoryAllocation) {
    std::fprintf(stderr, "fastgpu-burn: out of GPU memory during %s: %s\n", what.c_str(),
                 cudaGetErrorString(error));
    std::exit(kExitOutOfMemory);
  }
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  std::fprintf(stderr, "fastgpu-burn: CUDA error during %s: %s (%s); CUDA_VISIBLE_DEVICES=%s\n",
               what.c_str(), cudaGetErrorName(error), cudaGetErrorString(error),
               visible == nullptr ? "(unset)" : visible);
  std::exit(kExitDeviceError);
}

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) die(error, what);
}

void launch_sgemm(const float* a, const float* b, float* c, int n) {
  const dim3 threads(kThreads, kThreads);
  const dim3 blocks(n / kTile, n / kTile);
  sgemm_tiled<<<blocks, threads>>>(a, b, c, n);
  check(cudaGetLastError(), "the SGEMM launch");
}

void launch_fill(float* m, std::uint64_t count, std::uint64_t seed) {
  const unsigned blocks = static_cast<unsigned>((count + 255) / 256);
  fill_matrix<<<blocks, 256>>>(m, count, seed);
  check(cudaGetLastError(), "the fill launch");
}

// Device buffers freed on scope exit (errors there are ignored: the process is ending).
struct DeviceBuffers {
  std::vector<void*> pointers;
  std::uint64_t bytes = 0;
  ~DeviceBuffers() {
    for (void* p : pointers) cudaFree(p);
  }
  float* add(std::uint64_t count_bytes, const char* what) {
    void* p = nullptr;
    check(cudaMalloc(&p, count_bytes), what);
    pointers.push_back(p);
    bytes += count_bytes;
    return static_cast<float*>(p);
  }
};

// Runs the kernel on a small product and compares every entry with a host reference.
bool self_check() {
  constexpr int kN = 128;
  constexpr std::uint64_t kCount = std::uint64_t{kN} * kN;
  std::vector<float> host_c(kCount);
  {
    DeviceBuffers buffers;
    float* a = buffers.add(kCount * sizeof(float), "the self-check allocation");
    float* b = buffers.add(kCount * sizeof(float), "the self-check allocation");
    float* c = buffers.add(kCount * sizeof(float), "the self-check allocation");
    launch_fill(a, kCount, 1);
    launch_fill(b, kCount, 5);
    launch_sgemm(a, b, c, kN);
    check(cudaMemcpy(host_c.data(), c, kCount * sizeof(float), cudaMemcpyDeviceToHost),
          "the self-check copy");
  }
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) {
      double expected = 0.0;
      for (int k = 0; k < kN; ++k) {
        expected += double{fill_value(static_cast<std::uint64_t>(i * kN + k), 1)} *
                    fill_value(static_cast<std::uint64_t>(k * kN + j), 5);
      }
      if (static_cast<double>(host_c[i * kN + j]) != expected) return false;
    }
  }
  return true;
}

// Allocates the ballast in chunks, so the request succeeds whenever that much is free even
// if the free memory is not one contiguous range. Every byte is written by cudaMemset.
void allocate_ballast(DeviceBuffers& buffers, std::uint64_t bytes, const BurnOptions& options) {
  while (bytes > 0) {
    const std::uint64_t chunk = bytes < kChunkBytes ? bytes : kChunkBytes;
    void* p = nullptr;
    const cudaError_t error = cudaMalloc(&p, chunk);
    if (error == cudaErrorMemoryAllocation) {
      std::size_t free_bytes = 0;
      std::size_t total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      std::fprintf(stderr,
                   "fastgpu-burn: out of GPU memory: allocated %s of the %s requested (--mem); "
                   "the device has %s free of %s\n",
                   human_bytes(buffers.bytes).c_str(), human_bytes(options.mem_bytes).c_str(),
                   human_bytes(free_bytes).c_str(), human_bytes(total_bytes).c_str());
      std::exit(kExitOutOfMemory);
    }
    check(error, "cudaMalloc of the ballast");
    buffers.pointers.push_back(p);
    buffers.bytes += chunk;
    check(cudaMemset(p, 0xA5, chunk), "cudaMemset of the ballast");
    bytes -= chunk;
  }
}

std::string device_name(int* index) {
  check(cudaGetDevice(index), "cudaGetDevice");
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, *index), "cudaGetDeviceProperties");
  return properties.name;
}

// Launches products in steps of --step, or of about kBatchSeconds, syncing after each step to
// read the clock and the stop flag; --idle waits before each step. Returns the number of
// products that completed.
std::uint64_t burn(const float* a, const float* b, float* c, const BurnOptions& options,
                   BurnSummary& summary) {
  const int n = static_cast<int>(options.size);
  const Clock::time_point start = Clock::now();
  idle_before_step(options, summary);
  const Clock::time_point first = Clock::now();
  launch_sgemm(a, b, c, n);
  check(cudaDeviceSynchronize(), "the first SGEMM");
  const double one_product = seconds_since(first);
  std::uint64_t step = static_cast<std::uint64_t>(kBatchSeconds / (one_product + 1e-9));
  step = step < 1 ? 1 : (step > 1000 ? 1000 : step);
  if (options.step > 0) step = options.step;
  std::uint64_t matmuls = 1;
  std::uint64_t in_step = 1;  // the first product began the first step
  ProgressPrinter progress(summary.program, options.json, options.size);
  while (!stop_requested() && !work_done(options, seconds_since(start), matmuls)) {
    if (in_step >= step) {
      idle_before_step(options, summary);
      in_step = 0;
      if (stop_requested()) break;
    }
    const std::uint64_t launches = next_batch(options, step - in_step, matmuls);
    for (std::uint64_t i = 0; i < launches; ++i) launch_sgemm(a, b, c, n);
    check(cudaDeviceSynchronize(), "the SGEMM loop");
    matmuls += launches;
    in_step += launches;
    progress.maybe_print(seconds_since(start), matmuls);
  }
  summary.seconds = seconds_since(start);
  return matmuls;
}

int run(const BurnOptions& options) {
  if (options.size % kTile != 0 || options.size > (1u << 15)) {
    std::fprintf(stderr, "fastgpu-burn: --size %llu must be a multiple of %d up to 32768\n",
                 static_cast<unsigned long long>(options.size), kTile);
    return kExitUsage;
  }
  // Sleep in syncs instead of spinning, so packed jobs leave the host's cores alone.
  check(cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync), "cudaSetDeviceFlags");
  BurnSummary summary;
  summary.program = "fastgpu-burn";
  summary.device = device_name(&summary.device_index);
  summary.size = options.size;
  summary.bytes_requested = options.mem_bytes;
  summary.verified = self_check();
  if (!summary.verified) {
    std::fprintf(stderr, "fastgpu-burn: the SGEMM kernel gave wrong results on %s\n",
                 summary.device.c_str());
    return kExitDeviceError;
  }
  DeviceBuffers buffers;
  const std::uint64_t count = options.size * options.size;
  float* a = buffers.add(count * sizeof(float), "cudaMalloc of matrix A");
  float* b = buffers.add(count * sizeof(float), "cudaMalloc of matrix B");
  float* c = buffers.add(count * sizeof(float), "cudaMalloc of matrix C");
  launch_fill(a, count, 1);
  launch_fill(b, count, 5);
  check(cudaMemset(c, 0, count * sizeof(float)), "cudaMemset of matrix C");
  allocate_ballast(buffers, options.mem_bytes - matrix_bytes(options.size), options);
  check(cudaDeviceSynchronize(), "touching the allocation");
  summary.bytes_allocated = buffers.bytes;
  summary.peak_memory_bytes = buffers.bytes;
  say(options.json, "fastgpu-burn: device " + std::to_string(summary.device_index) + " (" +
                        summary.device + "), holding " + human_bytes(buffers.bytes) + ", SGEMM " +
                        std::to_string(options.size) + "x" + std::to_string(options.size));

  summary.matmuls = burn(a, b, c, options, summary);
  return finish_run(options, summary);
}

}  // namespace

int main(int argc, char** argv) {
  const BurnDefaults defaults{
      "fastgpu-burn", "fastgpu-burn: hold GPU memory and run SGEMM for a given time", "1G", 4096};
  BurnOptions options;
  int exit_code = kExitOk;
  if (!parse_burn_args(argc, argv, defaults, &options, &exit_code)) return exit_code;
  install_stop_handlers();
  return run(options);
}
