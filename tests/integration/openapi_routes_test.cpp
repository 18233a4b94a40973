// docs/openapi.yaml names exactly the routes the service serves: the route
// patterns come from the application's own router; tests/openapi/check_openapi.py
// (Debian's python3 + python3-yaml) parses the document and compares.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "jobrelay/app/application.hpp"

namespace {

const std::string python = "/usr/bin/python3";

int exit_code(int status) {
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status)
                           : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

TEST(OpenApi, RoutePatternsAreTheServiceRoutes) {
  const auto patterns = jobrelay::app::route_patterns();
  for (const char* expected : {"/analyze", "/results", "/results/{id}", "/results/{id}/events",
                               "/healthz", "/readyz", "/stats", "/metrics"})
    EXPECT_NE(std::find(patterns.begin(), patterns.end(), expected), patterns.end()) << expected;
}

TEST(OpenApi, DocumentParsesAndNamesEveryRoute) {
  // Not a skip: without the checker's interpreter the document goes unchecked.
  ASSERT_EQ(::access(python.c_str(), X_OK), 0)
      << python << " is missing: install python3 and python3-yaml (scripts/install-deps.sh --test)";
  ASSERT_EQ(exit_code(std::system((python + " -c 'import yaml' 2>/dev/null").c_str())), 0)
      << "PyYAML is missing for " << python
      << ": install python3-yaml (scripts/install-deps.sh --test)";

  const auto routes_file = std::filesystem::temp_directory_path() /
                           ("jobrelay-routes-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(routes_file);
    for (const auto& p : jobrelay::app::route_patterns()) out << p << '\n';
    ASSERT_TRUE(out.good()) << "cannot write " << routes_file;
  }
  const std::string source = JOBRELAY_SOURCE_DIR;
  const std::string command = python + " '" + source + "/tests/openapi/check_openapi.py' '" +
                              source + "/docs/openapi.yaml' '" + routes_file.string() + "'";
  const int code = exit_code(std::system(command.c_str()));
  std::filesystem::remove(routes_file);
  EXPECT_EQ(code, 0) << command << " failed (its messages are above)";
}

}  // namespace
