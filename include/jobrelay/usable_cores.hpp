// How many cores this process may run on: the default of server.threads.
// std::thread::hardware_concurrency() counts the machine's, but a container
// is often given fewer, by an affinity mask (--cpuset-cpus, taskset) or by a
// CFS quota (--cpus, a Kubernetes CPU limit). Each I/O thread runs its own
// connections, so a thread beyond the cores it can use only time-slices with
// the others, and its connections wait for their turn.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace jobrelay {

// Cores granted by a cgroup v2 `cpu.max` ("200000 100000" -> 2; a quota that
// is not whole cores rounds up: "150000 100000" -> 2). None for "max" (no
// quota) or text that is not a quota.
std::optional<unsigned> cores_of_cpu_max(std::string_view cpu_max);

// The same for cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (quota -1:
// none).
std::optional<unsigned> cores_of_cfs_quota(std::string_view quota_us, std::string_view period_us);

// The tightest CPU quota on this process's cgroup and its ancestors, read
// below `cgroup_root` (/sys/fs/cgroup) for the paths `proc_self_cgroup` (the
// text of /proc/self/cgroup) names: cgroup v2's cpu.max, else v1's cpu
// controller. None when no level sets one, or the files are not there.
std::optional<unsigned> cgroup_quota_cores(const std::filesystem::path& cgroup_root,
                                           std::string_view proc_self_cgroup);

// min(the CPUs in this process's affinity mask, its cgroup's quota), at
// least 1; hardware_concurrency() when neither can be read.
unsigned usable_cores();

}  // namespace jobrelay
