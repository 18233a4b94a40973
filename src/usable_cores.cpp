#include "jobrelay/usable_cores.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace jobrelay {
namespace {

// A cgroup file's line without the spaces and line end around it.
std::string_view trim_line(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<long long> whole_number(std::string_view text) {
  text = trim_line(text);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<unsigned> cores_of(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  const long long cores = (quota + period - 1) / period;
  return static_cast<unsigned>(std::clamp<long long>(cores, 1, 1 << 20));
}

// The first `limit` bytes of a file (cgroup files are a line or a few).
std::optional<std::string> read_small_file(const std::filesystem::path& path,
                                           std::size_t limit = 4096) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(limit, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::optional<unsigned> tighter(std::optional<unsigned> a, std::optional<unsigned> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The cgroup path /proc/self/cgroup gives for v2 ("0::/path") or for the v1
// hierarchy holding `controller` ("4:cpu,cpuacct:/path").
std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup,
                                       std::string_view controller) {
  std::istringstream lines{std::string(proc_self_cgroup)};
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (path.empty() || path.front() != '/') continue;
    if (controller.empty()) {
      if (line.compare(0, first, "0") == 0 && controllers.empty()) return path;
      continue;
    }
    for (std::size_t at = 0; at <= controllers.size();) {
      const auto comma = std::min(controllers.find(',', at), controllers.size());
      if (controllers.substr(at, comma - at) == controller) return path;
      at = comma + 1;
    }
  }
  return std::nullopt;
}

// root/path and every level above it up to root, each read by `quota_at`:
// the tightest quota (a parent's limit binds its children too).
template <class QuotaAt>
std::optional<unsigned> walk_up(const std::filesystem::path& root, std::string_view path,
                                QuotaAt quota_at) {
  std::optional<unsigned> best;
  std::filesystem::path relative = std::filesystem::path(path).relative_path();
  for (int level = 0; level < 64; ++level) {
    best = tighter(best, quota_at(root / relative));
    if (relative.empty()) break;
    relative = relative.parent_path();
  }
  return best;
}

}  // namespace

std::optional<unsigned> cores_of_cpu_max(std::string_view cpu_max) {
  cpu_max = trim_line(cpu_max);
  const auto space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  // The quota and the period, as v1 keeps them in two files ("max": none).
  return cores_of_cfs_quota(cpu_max.substr(0, space), cpu_max.substr(space + 1));
}

std::optional<unsigned> cores_of_cfs_quota(std::string_view quota_us, std::string_view period_us) {
  const auto quota = whole_number(quota_us);
  const auto period = whole_number(period_us);
  if (!quota || !period) return std::nullopt;
  return cores_of(*quota, *period);
}

std::optional<unsigned> cgroup_quota_cores(const std::filesystem::path& cgroup_root,
                                           std::string_view proc_self_cgroup) {
  if (const auto v2 = cgroup_path(proc_self_cgroup, "")) {
    const auto found = walk_up(cgroup_root, *v2, [](const std::filesystem::path& dir) {
      const auto text = read_small_file(dir / "cpu.max");
      return text ? cores_of_cpu_max(*text) : std::nullopt;
    });
    if (found) return found;
  }
  if (const auto v1 = cgroup_path(proc_self_cgroup, "cpu")) {
    for (const char* mount : {"cpu", "cpu,cpuacct", "cpuacct,cpu"}) {
      const auto found = walk_up(cgroup_root / mount, *v1, [](const std::filesystem::path& dir) {
        const auto quota = read_small_file(dir / "cpu.cfs_quota_us");
        const auto period = read_small_file(dir / "cpu.cfs_period_us");
        return quota && period ? cores_of_cfs_quota(*quota, *period) : std::nullopt;
      });
      if (found) return found;
    }
  }
  return std::nullopt;
}

unsigned usable_cores() {
  std::optional<unsigned> cores;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) > 0)
    cores = static_cast<unsigned>(CPU_COUNT(&mask));
  if (const auto self = read_small_file("/proc/self/cgroup", 65536))
    cores = tighter(cores, cgroup_quota_cores("/sys/fs/cgroup", *self));
  if (!cores) cores = std::thread::hardware_concurrency();
  return std::max(1u, *cores);
}

}  // namespace jobrelay
