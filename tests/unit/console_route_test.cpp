// The console's files as fila-scheduler serves them (console_route.cpp):
// the embedded table, the security headers, and the paths that must not
// reach a file.
#include <gtest/gtest.h>

#include <string>

#include "console_route.h"
#include "fila/console/console.h"

namespace fila::api {
namespace {

Request Get(const std::string& path, const std::string& method = "GET") {
  Request r;
  r.method = method;
  r.path = path;
  return r;
}

std::string HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(ConsoleAssets, PageAndModulesAreEmbeddedWithTheirTypes) {
  auto page = FindConsoleAsset("");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script type=\"module\" src=\"/ui/js/app.js\">"), std::string_view::npos);
  auto app = FindConsoleAsset("js/app.js");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(app->body.empty());
  EXPECT_TRUE(FindConsoleAsset("style.css"));
  EXPECT_TRUE(FindConsoleAsset("js/views/bulk.js"));
}

TEST(ConsoleAssets, OnlyExactNamesMatch) {
  for (const char* path : {"../index.html", "js/../index.html", "/index.html", "js//app.js", "index.html?x=1",
                           "JS/APP.JS", "js", "js/", "nope.js"}) {
    EXPECT_FALSE(FindConsoleAsset(path)) << path;
  }
}

TEST(ConsoleRoute, OtherPathsAreNotItsBusiness) {
  EXPECT_FALSE(ConsoleResponse(Get("/v1/tasks"), true));
  EXPECT_FALSE(ConsoleResponse(Get("/uix"), true));
  EXPECT_FALSE(ConsoleResponse(Get("/"), true));
}

TEST(ConsoleRoute, ServesThePageWithStrictHeaders) {
  for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
    auto r = ConsoleResponse(Get(path), true);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
    const std::string csp = HeaderOf(*r, "Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe"), std::string::npos);
    EXPECT_EQ(HeaderOf(*r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(*r, "Cache-Control"), "no-store");
  }
}

TEST(ConsoleRoute, RefusesTraversalOtherMethodsAndWhenOff) {
  auto traversal = ConsoleResponse(Get("/ui/../v1/tasks"), true);
  ASSERT_TRUE(traversal);
  EXPECT_EQ(traversal->status, 404);
  EXPECT_EQ(HeaderOf(*traversal, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(ConsoleResponse(Get("/ui/", "POST"), true)->status, 405);
  auto head = ConsoleResponse(Get("/ui/", "HEAD"), true);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto off = ConsoleResponse(Get("/ui/"), false);
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 404);
  EXPECT_NE(off->body.find("console is off"), std::string::npos);
  EXPECT_EQ(ConsoleResponse(Get("/ui/js/app.js"), false)->status, 404);
}

}  // namespace
}  // namespace fila::api
