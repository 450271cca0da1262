// WebService: what the coordinator serves over HTTP, read-only. Routes:
//   /                          the dashboard (one page; it reads the /api routes every second)
//   /api/builds                the builds (JSON, as ListBuilds)
//   /api/builds/<build>        one build with task summaries (JSON, as GetBuild)
//   /api/builds/<build>/coverage[.md]  its matrix cell by cell, built, failed, missing or
//                              unsupported (JSON v1.CoverageReport, or Markdown as `cwb coverage`)
//   /api/agents                the agents (JSON, as ListAgents)
//   /api/logs/<build>/<task>   a task's log from ?offset= (text; X-Log-Next-Offset, X-Task-State)
//   /simple/, /simple/<variant>/<project>/, /simple/<project>/   PEP 503 indexes of built wheels
//   /install                   every variant index with its `pip install --index-url` lines
//   /files/<build>/<task>/<wheel>                                 a wheel
//   /metrics                   Prometheus metrics
// With a client token configured every route wants one of the read role (/metrics none when
// RouteOptions.public_metrics): "Authorization: Bearer", HTTP Basic with
// the token as password (pip's https://user:TOKEN@host/...), or the cwb_token cookie, which
// "?token=" sets for browsers.
#pragma once

#include <string>

#include "common/rpc/access.h"
#include "common/web/http_server.h"
#include "common/web/simple_index.h"
#include "coordinator/access_policy.h"
#include "coordinator/coordinator.h"

namespace cwb {

class WebService {
 public:
  WebService(Coordinator& coordinator, std::shared_ptr<const TokenRing> tokens, RouteOptions routes = {})
      : coordinator_(coordinator), tokens_(std::move(tokens)), routes_(routes) {}

  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Api(const HttpRequest& request);
  HttpResponse Index(const std::string& rest);
  HttpResponse Log(const std::string& build_id, const std::string& task_id, const HttpRequest& request);
  HttpResponse Install(const HttpRequest& request);
  // Every build's published wheels as one index.
  absl::StatusOr<SimpleIndex> PublishedIndex();
  HttpResponse File(const std::string& rest);

  Coordinator& coordinator_;
  const std::shared_ptr<const TokenRing> tokens_;
  const RouteOptions routes_;
};

// The dashboard page (coordinator/dashboard.html, embedded at build time).
std::string_view DashboardPage();

}  // namespace cwb
