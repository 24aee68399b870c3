// Internal: the per-call scratch memory of the CUDA entry points, kept across calls instead of being
// allocated and freed on every call.
//
// One Workspace per (device, stream): a device block and a pinned host block (the call's status and
// small results are read back into it, so a D2H copy is a true async copy, not a staged pageable one).
// A call takes a WorkspaceLease, which holds the workspace's lock for the lease's life: two host threads
// on the same stream never share pieces, and the lock is released on every path out (RAII, also when a
// check throws). The caller lays out its pieces with a WorkspaceLayout, then asks the lease for them.
// The lock is not recursive: code holding a lease must not take another on the same stream (no entry
// point nests them: o2nc_update's inner o2nc_update_device and the finalize kernel take none).
//
// Growth is in stream order: when a call needs more device memory, the old block is freed with
// cudaFreeAsync on the workspace's stream (after the work already queued there that uses it) and a
// larger one is taken with cudaMallocAsync; a call never shrinks it. A call that needs more than
// kWorkspaceKeptMax gets a block of its own for the lease instead (cudaMallocAsync, freed with
// cudaFreeAsync when the lease ends, in stream order after the call's queued work), so one large call
// does not pin its memory outside the caller's allocator until exit. The pinned block grows with
// cudaFreeHost + cudaMallocHost (cudaFreeHost waits for the device: rare, only when a call needs more);
// calls read back only small status blocks through it (bulk results are copied straight to the caller).
//
// Ordering across streams that share a workspace (a handle such as cudaStreamPerThread names another
// stream in every thread; a destroyed stream's handle may be reused): each workspace keeps an event,
// recorded on the call's stream when its lease ends and waited for by the next lease's stream, so a
// call's kernels never overlap the previous user's queued work on the same memory.
//
// Lifetime: the workspaces live until the process exits and are never freed. The table is created with
// `new` and deliberately never destroyed: a static destructor runs after the CUDA driver may have been
// torn down, where cudaFree* would fail or crash. So each (device, stream) ever used keeps its blocks
// (the largest a call on it needed, at most kWorkspaceKeptMax) until exit: a bounded leak, reclaimed by
// the OS and driver at exit. No lease can be taken under CUDA graph capture (each entry point reads a
// status on the host): refused with an error before anything is enqueued.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>

namespace homotopt::cuda {

constexpr std::size_t kWorkspaceAlign = 256;  // every piece starts at a multiple of this (cudaMalloc's)
constexpr std::size_t kWorkspaceKeptMax = std::size_t{64} << 20;  // larger calls get a block of their own

// Offsets of a call's pieces in the device block, each aligned to kWorkspaceAlign.
class WorkspaceLayout {
 public:
  // Reserves `count` T's and returns the piece's byte offset.
  template <class T>
  std::size_t add(std::size_t count) {
    const std::size_t offset = bytes_;
    bytes_ += (count * sizeof(T) + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
    return offset;
  }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
};

struct Workspace;  // workspace.cu

// The workspace of (current device, stream), locked for this object's life. Construct it after the
// call's DeviceGuard (the device is the current one).
class WorkspaceLease {
 public:
  // Locks the workspace and makes its device block at least `device_bytes` and its pinned host block
  // at least `host_bytes` long (growing them as above).
  WorkspaceLease(cudaStream_t stream, std::size_t device_bytes, std::size_t host_bytes);
  // Records the workspace's event on the stream and frees a call's own block (stream-ordered), unchecked.
  ~WorkspaceLease();
  WorkspaceLease(const WorkspaceLease&) = delete;
  WorkspaceLease& operator=(const WorkspaceLease&) = delete;

  // The piece at `offset` (from the layout given to the constructor) of the device block.
  template <class T>
  T* device(std::size_t offset) const {
    return reinterpret_cast<T*>(device_ + offset);
  }
  // The pinned host block (host_bytes long, aligned for any type).
  template <class T>
  T* host() const {
    return reinterpret_cast<T*>(host_);
  }
  cudaStream_t stream() const { return stream_; }

 private:
  std::unique_lock<std::mutex> lock_;
  Workspace* workspace_ = nullptr;
  unsigned char* owned_ = nullptr;  // a call's own block (over kWorkspaceKeptMax)
  unsigned char* device_ = nullptr;
  unsigned char* host_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace homotopt::cuda
