// The default of server.threads: the cores a process may use, by its
// affinity mask and its cgroup's CPU quota (v2 cpu.max, v1 CFS quota),
// the tightest level of the cgroup tree binding.
#include "jobrelay/usable_cores.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

using namespace jobrelay;
namespace fs = std::filesystem;

TEST(UsableCores, CpuMaxIsCoresRoundedUp) {
  EXPECT_EQ(cores_of_cpu_max("200000 100000\n"), 2u);
  EXPECT_EQ(cores_of_cpu_max("150000 100000"), 2u);
  EXPECT_EQ(cores_of_cpu_max("50000 100000"), 1u);
  EXPECT_EQ(cores_of_cpu_max("1 100000"), 1u);
}

TEST(UsableCores, CpuMaxWithoutAQuotaOrNotAQuotaIsNone) {
  EXPECT_EQ(cores_of_cpu_max("max 100000\n"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max(""), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("200000"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("abc 100000"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("200000 0"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("-5 100000"), std::nullopt);
}

TEST(UsableCores, CfsQuotaIsCoresRoundedUpAndMinusOneIsNone) {
  EXPECT_EQ(cores_of_cfs_quota("400000\n", "100000\n"), 4u);
  EXPECT_EQ(cores_of_cfs_quota(" 400000 \r\n", "100000"), 4u);
  EXPECT_EQ(cores_of_cfs_quota("250000", "100000"), 3u);
  EXPECT_EQ(cores_of_cfs_quota("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(cores_of_cfs_quota("x", "100000"), std::nullopt);
}

namespace {

class cgroup_tree : public ::testing::Test {
 protected:
  cgroup_tree()
      : root_(fs::temp_directory_path() /
              ("jobrelay-cgroup-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~cgroup_tree() override { fs::remove_all(root_); }
  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }
  fs::path root_;
};

}  // namespace

TEST_F(cgroup_tree, V2TakesTheTightestLevelOfTheProcessCgroupAndItsParents) {
  write("kubepods/pod1/cpu.max", "400000 100000\n");
  write("kubepods/pod1/app/cpu.max", "max 100000\n");
  write("kubepods/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/kubepods/pod1/app\n"), 4u);
  write("kubepods/cpu.max", "300000 100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/kubepods/pod1/app\n"), 3u);
  write("kubepods/pod1/app/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/kubepods/pod1/app\n"), 2u);
}

TEST_F(cgroup_tree, V2InsideACgroupNamespaceReadsTheRootFile) {
  write("cpu.max", "200000 100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/\n"), 2u);
}

TEST_F(cgroup_tree, V1ReadsTheCpuControllersHierarchyWhateverItsMountIsCalled) {
  const std::string self =
      "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n";
  write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  write("cpu,cpuacct/docker/cpu.cfs_quota_us", "200000\n");
  write("cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, self), 2u);
}

TEST_F(cgroup_tree, NoQuotaAnywhereOrNoFilesIsNone) {
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/a/b\n"), std::nullopt);
  write("a/b/cpu.max", "max 100000\n");
  write("cpu/a/b/cpu.cfs_quota_us", "-1\n");
  write("cpu/a/b/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_quota_cores(root_, "0::/a/b\n1:cpu:/a/b\n"), std::nullopt);
  EXPECT_EQ(cgroup_quota_cores(root_, "garbage\n::\n"), std::nullopt);
  EXPECT_EQ(cgroup_quota_cores(root_, ""), std::nullopt);
}

// sched_getaffinity(0) is the calling thread's mask: a thread pinned to one
// CPU may use one core, whatever the machine has.
TEST(UsableCores, AThreadPinnedToOneCpuHasOneCore) {
  unsigned seen = 0;
  std::thread pinned([&] {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
    int first = 0;
    while (!CPU_ISSET(first, &mask)) ++first;
    CPU_ZERO(&mask);
    CPU_SET(first, &mask);
    ASSERT_EQ(sched_setaffinity(0, sizeof mask, &mask), 0);
    seen = usable_cores();
  });
  pinned.join();
  EXPECT_EQ(seen, 1u);
  EXPECT_GE(usable_cores(), 1u);
  EXPECT_LE(usable_cores(), std::max(1u, std::thread::hardware_concurrency()));
}
