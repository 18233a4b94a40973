// The mock analyzer's --static route: the browser demo is served from the
// mock's origin (another origin than jobrelay's, which is the point), so the
// route must serve exactly the plain files of its directory and nothing else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
namespace fs = std::filesystem;

namespace {

// A fresh directory tree per test: root/web holds the served files, root
// itself a file that must stay out of reach.
struct static_tree {
  static_tree() {
    root = fs::temp_directory_path() /
           ("jobrelay-static-" + std::to_string(std::random_device{}()));
    web = root / "web";
    fs::create_directories(web / "dir.html");
    write(web / "demo.html", "<!doctype html><title>demo</title>");
    write(web / "app.js", "export const x = 1;\n");
    write(web / "style.css", "body{}");
    write(web / "notes.txt", "not served: unknown extension");
    write(web / ".hidden.js", "hidden");
    write(root / "outside.html", "secret");
    fs::create_symlink(root / "outside.html", web / "link.html");
  }
  ~static_tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  fs::path root, web;
};

mock::mock_options with_static(const fs::path& dir) {
  mock::mock_options o;
  o.static_dir = dir.string();
  return o;
}

void expect_not_found(const reply& r, const std::string& target) {
  EXPECT_EQ(r.status, 404u) << target;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << target;
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << target;
}

}  // namespace

TEST(MockStatic, ServesFilesWithTheirContentType) {
  static_tree tree;
  running_mock mock(with_static(tree.web));
  auto html = http_get(mock.port(), "/web/demo.html");
  EXPECT_EQ(html.status, 200u);
  EXPECT_EQ(html.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(html.body, "<!doctype html><title>demo</title>");
  auto js = http_get(mock.port(), "/web/app.js");
  EXPECT_EQ(js.status, 200u);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript");
  EXPECT_EQ(js.body, "export const x = 1;\n");
  auto css = http_get(mock.port(), "/web/style.css?v=2");  // a query is ignored
  EXPECT_EQ(css.status, 200u);
  EXPECT_EQ(css.header("Content-Type"), "text/css");
}

TEST(MockStatic, RefusesEverythingButPlainFilesOfTheDirectory) {
  static_tree tree;
  running_mock mock(with_static(tree.web));
  for (const std::string target :
       {"/web/missing.html", "/web/notes.txt", "/web/.hidden.js", "/web/dir.html",
        "/web/link.html", "/web/..", "/web/.", "/web/../outside.html", "/web/%2e%2e",
        "/web/..%2foutside.html", "/web/%2E%2E%2Foutside.html", "/web/", "/web"}) {
    expect_not_found(http_get(mock.port(), target), target);
  }
}

TEST(MockStatic, NoRouteWithoutADirectory) {
  static_tree tree;
  running_mock mock(mock::mock_options{});
  expect_not_found(http_get(mock.port(), "/web/demo.html"), "/web/demo.html");
}
