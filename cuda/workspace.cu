// The per-(device, stream) workspaces of workspace.cuh: a table that lives until exit (never destroyed,
// see there) and the growth of one workspace's blocks in stream order.
#include <map>
#include <memory>
#include <utility>

#include "launch.cuh"
#include "workspace.cuh"

namespace homotopt::cuda {

struct Workspace {
  std::mutex mutex;  // held by a lease for its call
  unsigned char* device = nullptr;
  std::size_t device_bytes = 0;
  unsigned char* host = nullptr;  // pinned
  std::size_t host_bytes = 0;
  cudaEvent_t last_use = nullptr;  // recorded when a lease ends (created by the first lease)
};

namespace {

constexpr std::size_t kDeviceGranule = std::size_t{1} << 16;  // device blocks grow in 64 KiB steps
constexpr std::size_t kHostMin = 4096;

std::size_t round_up(std::size_t bytes, std::size_t granule) { return (bytes + granule - 1) / granule * granule; }

// The workspace of (device, stream), created on first use. The table and its workspaces are never freed
// (workspace.cuh: no CUDA calls in static destructors); entries are never removed, so the pointer stays
// valid after the table's lock is released.
Workspace& workspace_of(int device, cudaStream_t stream) {
  static std::mutex* table_mutex = new std::mutex;
  static auto* table = new std::map<std::pair<int, cudaStream_t>, std::unique_ptr<Workspace>>;
  std::lock_guard<std::mutex> lock(*table_mutex);
  std::unique_ptr<Workspace>& slot = (*table)[{device, stream}];
  if (!slot) slot = std::make_unique<Workspace>();
  return *slot;
}

// Every entry point reads a status on the host, so none can be captured into a CUDA graph: refused
// before anything is enqueued (a growth would also record its allocation as a graph node).
void check_not_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  HOMOTOPT_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  HOMOTOPT_CHECK(status == cudaStreamCaptureStatusNone,
                 "this CUDA operation reads a result on the host and cannot run under CUDA graph capture");
}

}  // namespace

WorkspaceLease::WorkspaceLease(cudaStream_t stream, std::size_t device_bytes, std::size_t host_bytes)
    : stream_(stream) {
  check_not_capturing(stream);
  int device = 0;
  HOMOTOPT_CUDA_CHECK(cudaGetDevice(&device));
  Workspace& w = workspace_of(device, stream);
  lock_ = std::unique_lock<std::mutex>(w.mutex);
  if (w.last_use == nullptr) HOMOTOPT_CUDA_CHECK(cudaEventCreateWithFlags(&w.last_use, cudaEventDisableTiming));
  // After the previous user's queued work, whichever stream it was on (a no-op for the same stream).
  HOMOTOPT_CUDA_CHECK(cudaStreamWaitEvent(stream, w.last_use, 0));
  workspace_ = &w;
  if (host_bytes > w.host_bytes) {
    const std::size_t bytes = round_up(host_bytes < kHostMin ? kHostMin : host_bytes, kHostMin);
    // Every call that used the old block waited for its copies before it returned: nothing pending uses it.
    unsigned char* old = std::exchange(w.host, nullptr);
    w.host_bytes = 0;
    if (old) HOMOTOPT_CUDA_CHECK(cudaFreeHost(old));
    HOMOTOPT_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&w.host), bytes));
    w.host_bytes = bytes;
  }
  if (device_bytes > kWorkspaceKeptMax) {
    HOMOTOPT_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&owned_), device_bytes, stream));
  } else if (device_bytes > w.device_bytes) {
    const std::size_t bytes = round_up(device_bytes, kDeviceGranule);
    unsigned char* old = std::exchange(w.device, nullptr);
    w.device_bytes = 0;  // consistent if the allocation below throws
    if (old) HOMOTOPT_CUDA_CHECK(cudaFreeAsync(old, stream));  // after the queued work that uses it
    HOMOTOPT_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&w.device), bytes, stream));
    w.device_bytes = bytes;
  }
  device_ = owned_ ? owned_ : w.device;
  host_ = w.host;
}

WorkspaceLease::~WorkspaceLease() {
  // Unchecked: a destructor may not throw (an error here resurfaces at the stream's next checked call).
  if (owned_) cudaFreeAsync(owned_, stream_);
  if (workspace_ != nullptr && workspace_->last_use != nullptr) cudaEventRecord(workspace_->last_use, stream_);
}

}  // namespace homotopt::cuda
