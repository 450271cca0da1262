// The web parts on their own: the metrics registry's exposition (parsed strictly), the PEP 503
// index (names, variants, pages, static files), and the HTTP server on a real loopback port.
#include <filesystem>
#include <fstream>

#include "common/web/http_server.h"
#include "common/web/metrics.h"
#include "common/web/simple_index.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_text.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInTheExpositionFormat) {
  MetricsRegistry metrics;
  metrics.CounterOf("jobs_total", "Jobs \\ done\nso far", {{"kind", "a\"b"}}).Add(2);
  metrics.CounterOf("jobs_total", "ignored", {{"kind", "plain"}}).Add();
  metrics.Gauge("depth", "Queue depth", [] { return std::vector<std::pair<MetricLabels, double>>{{{}, 7}}; });
  Histogram& latency = metrics.HistogramOf("latency_seconds", "Latency", {0.1, 1}, {{"route", "x"}});
  for (double v : {0.05, 0.5, 0.5, 3.0}) latency.Observe(v);
  const std::string text = metrics.Render();
  absl::StatusOr<testing::Samples> samples = testing::ParseExposition(text);
  ASSERT_TRUE(samples.ok()) << samples.status() << "\n" << text;
  EXPECT_EQ(samples->at("jobs_total{kind=\"a\\\"b\"}"), 2);
  EXPECT_EQ(samples->at("jobs_total{kind=\"plain\"}"), 1);
  EXPECT_EQ(samples->at("depth"), 7);
  EXPECT_EQ(samples->at("latency_seconds_bucket{route=\"x\",le=\"0.1\"}"), 1);
  EXPECT_EQ(samples->at("latency_seconds_bucket{route=\"x\",le=\"1\"}"), 3);
  EXPECT_EQ(samples->at("latency_seconds_bucket{route=\"x\",le=\"+Inf\"}"), 4);
  EXPECT_EQ(samples->at("latency_seconds_count{route=\"x\"}"), 4);
  EXPECT_DOUBLE_EQ(samples->at("latency_seconds_sum{route=\"x\"}"), 4.05);
  EXPECT_THAT(text, HasSubstr("# HELP jobs_total Jobs \\\\ done\\nso far\n# TYPE jobs_total counter\n"));
}

TEST(MetricsTest, TheParserRejectsWhatPrometheusWould) {
  EXPECT_FALSE(testing::ParseExposition("x 1\n").ok());  // no TYPE
  EXPECT_FALSE(testing::ParseExposition("# TYPE x gauge\nx{a=b} 1\n").ok());
  EXPECT_FALSE(testing::ParseExposition("# TYPE x gauge\nx one\n").ok());
  EXPECT_FALSE(testing::ParseExposition(
                   "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
                   .ok());
}

TEST(SimpleIndexTest, NamesAndVariantsFollowPep503AndTheReleaseConvention) {
  EXPECT_EQ(NormalizeProjectName("Flash_Attn"), "flash-attn");
  EXPECT_EQ(NormalizeProjectName("a.-_b__c"), "a-b-c");
  EXPECT_EQ(WheelDistribution("flash_attn-2.6.3+cu124torch2.5-cp312-cp312-linux_x86_64.whl"), "flash_attn");
  EXPECT_EQ(VariantName({{"python_version", "3.12"}, {"cuda_version", "12.1"}, {"pytorch_version", "2.3.1"}}),
            "cu121-torch2.3");
  EXPECT_EQ(VariantName({{"cuda_version", "11.8"}, {"pytorch_version", "2.4"}, {"cxx11_abi", "TRUE"}}),
            "cu118-torch2.4-cxx11abiTRUE");
  EXPECT_EQ(VariantName({{"cuda_version", "cpu"}, {"pytorch_version", "2.4.0"}}), "cpu-torch2.4");
}

TEST(SimpleIndexTest, PagesListEachVariantsWheelsWithTheirDigests) {
  const SimpleIndex index({{"cu121-torch2.3", "Flash_Attn-1.0-cp311-cp311-linux_x86_64.whl", "files/b1/t1/f1.whl", "aa"},
                           {"cu118-torch2.3", "flash_attn-1.0-cp311-cp311-linux_x86_64.whl", "files/b1/t2/f2.whl", "bb"},
                           {"cu121-torch2.3", "other-2.0-py3-none-any.whl", "files/b1/t3/o.whl", "cc"}});
  EXPECT_EQ(index.Variants(), (std::vector<std::string>{"cu118-torch2.3", "cu121-torch2.3"}));
  const std::optional<std::string> page = index.ProjectPage("cu121-torch2.3", "flash-attn", "/");
  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(*page, HasSubstr("<a href=\"/files/b1/t1/f1.whl#sha256=aa\">Flash_Attn-1.0-cp311-cp311-linux_x86_64.whl</a>"));
  EXPECT_THAT(*page, Not(HasSubstr("f2.whl")));
  EXPECT_FALSE(index.ProjectPage("cu118-torch2.3", "other", "/").has_value());
  const std::optional<std::string> all = index.ProjectPage("", "flash-attn", "/");
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(*all, HasSubstr("f1.whl"));
  EXPECT_THAT(*all, HasSubstr("f2.whl"));
  EXPECT_THAT(index.ProjectsPage(""), HasSubstr("<a href=\"flash-attn/\">flash-attn</a>"));
}

TEST(SimpleIndexTest, TheInstallPageGivesEachVariantsPipLinesEscaped) {
  const SimpleIndex index({{"cu121-torch2.3", "Flash_Attn-1.0-cp311-cp311-linux_x86_64.whl", "files/b1/t1/f1.whl", "aa"},
                           {"cu118-torch2.3", "flash_attn-1.0-cp311-cp311-linux_x86_64.whl", "files/b1/t2/f2.whl", "bb"},
                           {"cu121-torch2.3", "other-2.0-py3-none-any.whl", "files/b1/t3/o.whl", "cc"}});
  const std::string page = index.InstallPage("http://farm:8080");
  EXPECT_THAT(page, HasSubstr("<h2 id=\"cu118-torch2.3\">cu118-torch2.3</h2>\n<pre>"
                              "pip install --index-url http://farm:8080/simple/cu118-torch2.3/ flash-attn\n</pre>"));
  EXPECT_THAT(page, HasSubstr("pip install --index-url http://farm:8080/simple/cu121-torch2.3/ flash-attn\n"
                              "pip install --index-url http://farm:8080/simple/cu121-torch2.3/ other\n"));
  EXPECT_THAT(page, HasSubstr("http://cwb:TOKEN@farm:8080/simple/"));
  EXPECT_THAT(page, HasSubstr("lists every variant together"));
  // A hostile Host header is text on the page, never markup.
  EXPECT_THAT(index.InstallPage("http://<script>"), Not(HasSubstr("<script>")));
  EXPECT_THAT(SimpleIndex({}).InstallPage("http://farm"), HasSubstr("No wheel is published yet"));
}

TEST(SimpleIndexTest, StaticIndexLinksWheelsRelativeToItsParent) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("simple_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const SimpleIndex index({{"cpu-torch2.4", "demo-1.0-py3-none-any.whl", "wheelhouse/py311/cudacpu/any/demo-1.0-py3-none-any.whl", "dd"}});
  ASSERT_TRUE(index.WriteStatic(dir / "simple").ok());
  std::stringstream variant, all;
  variant << std::ifstream(dir / "simple/cpu-torch2.4/demo/index.html").rdbuf();
  all << std::ifstream(dir / "simple/demo/index.html").rdbuf();
  EXPECT_THAT(variant.str(), HasSubstr("href=\"../../../wheelhouse/py311/cudacpu/any/demo-1.0-py3-none-any.whl#sha256=dd\""));
  EXPECT_THAT(all.str(), HasSubstr("href=\"../../wheelhouse/py311/cudacpu/any/demo-1.0-py3-none-any.whl#sha256=dd\""));
  EXPECT_TRUE(fs::exists(dir / "simple/index.html"));
  fs::remove_all(dir);
}

TEST(HttpServerTest, APutIsAdmittedOnItsHeadersThenItsBodyArrivesAsAFile) {
  const fs::path spool = fs::path(::testing::TempDir()) / ("spool_" + std::to_string(::getpid()));
  fs::remove_all(spool);
  fs::create_directories(spool);
  std::string received;
  HttpUploads uploads{spool, 100, [](const HttpRequest& request) -> std::optional<HttpResponse> {
                        if (request.authorization != "Bearer ok") return HttpResponse::Text(401, "who are you\n");
                        return std::nullopt;
                      }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      "127.0.0.1:0",
      [&](const HttpRequest& request) {
        if (request.method != "PUT") return HttpResponse::Text(200, "get");
        std::ifstream in(request.body_file);
        received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        return HttpResponse::Text(201, "");
      },
      2, uploads);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  EXPECT_EQ(testing::HttpPut(address, "/x", "the body", {{"Authorization", "Bearer ok"}}).status, 201);
  EXPECT_EQ(received, "the body");
  EXPECT_EQ(testing::HttpPut(address, "/x", "refused", {{"Authorization", "Bearer no"}}).status, 401);
  EXPECT_EQ(testing::HttpPut(address, "/x", std::string(101, 'b'), {{"Authorization", "Bearer ok"}}).status, 413);
  EXPECT_EQ(received, "the body");
  EXPECT_EQ(testing::HttpGet(address, "/x").body, "get");
  EXPECT_EQ(testing::HttpGet(address, "/x", {}, "DELETE").status, 405);
  EXPECT_TRUE(fs::is_empty(spool));  // every body removed once handled or refused
  fs::remove_all(spool);
}

TEST(HttpServerTest, ServesGetHeadFilesAndRefusesOtherMethods) {
  const fs::path file = fs::path(::testing::TempDir()) / ("served_" + std::to_string(::getpid()));
  std::ofstream(file) << "file body";
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start("127.0.0.1:0", [&](const HttpRequest& request) {
    if (request.path == "/file") {
      HttpResponse response;
      response.file = file;
      return response;
    }
    if (request.path == "/missing-file") {
      HttpResponse response;
      response.file = file.string() + ".gone";
      return response;
    }
    if (request.path == "/throws") throw std::runtime_error("boom");
    auto q = request.query.find("q");
    return HttpResponse::Text(200, request.path + "|" + (q == request.query.end() ? "" : q->second));
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  EXPECT_EQ(testing::HttpGet(address, "/a%20b?q=x+y%21").body, "/a b|x y!");
  testing::HttpAnswer got = testing::HttpGet(address, "/file");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "file body");
  testing::HttpAnswer head = testing::HttpGet(address, "/file", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["Content-Length"], "9");
  EXPECT_EQ(testing::HttpGet(address, "/missing-file").status, 404);
  EXPECT_EQ(testing::HttpGet(address, "/throws").status, 500);
  EXPECT_EQ(testing::HttpGet(address, "/", {}, "POST").status, 405);
  EXPECT_FALSE(HttpServer::Start("127.0.0.1:notaport", [](const HttpRequest&) { return HttpResponse(); }).ok());
  fs::remove(file);
}

TEST(HttpServerTest, EscapesHtml) { EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"); }

}  // namespace
}  // namespace cwb
