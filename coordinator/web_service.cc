#include "coordinator/web_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc/auth.h"
#include "coordinator/access_policy.h"
#include "common/rpc/coverage.h"
#include "common/web/simple_index.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "common/rpc/wire.h"

namespace cwb {
namespace {

constexpr size_t kLogChunk = 256 << 10;

HttpResponse Json(const google::protobuf::Message& message) {
  HttpResponse response;
  response.content_type = "application/json";
  response.body = ToJson(message);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse Html(std::string body) {
  HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::move(body);
  return response;
}

HttpResponse NotFound(std::string what) { return HttpResponse::Text(404, what + "\n"); }

// A call that failed: 503 while the coordinator cannot write its state (retry later), else 404.
HttpResponse Failure(const absl::Status& status) {
  return HttpResponse::Text(absl::IsUnavailable(status) ? 503 : 404, absl::StrCat(status.message(), "\n"));
}

std::string CookieValue(const std::string& header, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::StartsWith(part, name + "=")) return std::string(part.substr(name.size() + 1));
  }
  return "";
}

std::vector<std::string> Segments(const std::string& path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

// A build's coverage: its tasks (whose wheels are in the store) and the combinations left out.
v1::CoverageReport BuildCoverage(const v1::BuildInfo& build) {
  std::vector<const v1::TaskSpec*> specs;
  std::vector<const v1::TaskInfo*> results;
  for (const v1::TaskInfo& task : build.tasks()) {
    specs.push_back(&task.spec());
    results.push_back(&task);
  }
  return MakeCoverage(build.config_name(), specs, build.unsupported(), results,
                      [](const v1::ArtifactInfo&) { return std::string(); });
}

}  // namespace

std::string TokenOf(const HttpRequest& request) {
  const std::string& header = request.authorization;
  if (std::optional<std::string_view> bearer = BearerToken(header)) return std::string(*bearer);
  if (absl::StartsWith(header, "Basic ")) {
    std::string decoded;
    if (absl::Base64Unescape(header.substr(6), &decoded)) {
      const size_t colon = decoded.find(':');
      if (colon != std::string::npos) return decoded.substr(colon + 1);
    }
  }
  if (std::string cookie = CookieValue(request.cookie, "cwb_token"); !cookie.empty()) return cookie;
  auto query = request.query.find("token");
  return query == request.query.end() ? "" : query->second;
}

HttpResponse WebService::Handle(const HttpRequest& request) {
  const Role needed = RoleForRoute(request.path, routes_);
  absl::StatusOr<Principal> caller = Authorize(*tokens_, needed, TokenOf(request), request.path);
  if (absl::IsPermissionDenied(caller.status())) return HttpResponse::Text(403, absl::StrCat(caller.status().message(), "\n"));
  if (!caller.ok()) {
    HttpResponse denied = HttpResponse::Text(401, "a client token is required: ?token=, a bearer token, or "
                                                  "basic auth with the token as password\n");
    denied.headers.emplace_back("WWW-Authenticate", "Basic realm=\"cwb\"");
    return denied;
  }
  HttpResponse response;
  const std::string& path = request.path;
  if (path == "/" || path == "/index.html") {
    response = Html(std::string(DashboardPage()));
  } else if (path == "/metrics") {
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = coordinator_.metrics().Render();
  } else if (absl::StartsWith(path, "/api/")) {
    response = Api(request);
  } else if (path == "/simple" || absl::StartsWith(path, "/simple/")) {
    if (path == "/simple") {
      response = HttpResponse::Text(301, "");
      response.headers.emplace_back("Location", "/simple/");
    } else {
      response = Index(path.substr(8));
    }
  } else if (path == "/install") {
    response = Install(request);
  } else if (absl::StartsWith(path, "/files/")) {
    response = File(path.substr(7));
  } else {
    response = NotFound("no such page: " + path);
  }
  auto query = request.query.find("token");
  if (tokens_->Guards(needed) && query != request.query.end()) {
    // A browser that came with ?token= keeps it as a cookie for the page's own requests.
    response.headers.emplace_back("Set-Cookie", absl::StrCat("cwb_token=", query->second,
                                                             "; Path=/; HttpOnly; SameSite=Strict"));
  }
  return response;
}

HttpResponse WebService::Api(const HttpRequest& request) {
  const std::vector<std::string> parts = Segments(request.path);  // "api", ...
  if (parts.size() == 2 && parts[1] == "builds") {
    absl::StatusOr<std::vector<v1::BuildInfo>> builds = coordinator_.ListBuilds();
    if (!builds.ok()) return Failure(builds.status());
    v1::ListBuildsResponse list;
    for (v1::BuildInfo& build : *builds) *list.add_builds() = std::move(build);
    return Json(list);
  }
  if (parts.size() == 3 && parts[1] == "builds") {
    absl::StatusOr<v1::BuildInfo> build = coordinator_.GetBuild(parts[2], v1::TASK_VIEW_SUMMARY);
    if (!build.ok()) return Failure(build.status());
    return Json(*build);
  }
  if (parts.size() == 4 && parts[1] == "builds" && (parts[3] == "coverage" || parts[3] == "coverage.md")) {
    absl::StatusOr<v1::BuildInfo> build = coordinator_.GetBuild(parts[2], v1::TASK_VIEW_SUMMARY);
    if (!build.ok()) return Failure(build.status());
    const v1::CoverageReport report = BuildCoverage(*build);
    if (parts[3] == "coverage") return Json(report);
    HttpResponse response = HttpResponse::Text(200, CoverageMarkdown(report, [&](const v1::CoverageCell& cell, const std::string& wheel) {
      return absl::StrCat("/files/", build->build_id(), "/", cell.task_id(), "/", wheel.substr(wheel.rfind('/') + 1));
    }));
    response.content_type = "text/markdown; charset=utf-8";
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }
  if (parts.size() == 2 && parts[1] == "agents") {
    absl::StatusOr<std::vector<v1::AgentInfo>> agents = coordinator_.ListAgents();
    if (!agents.ok()) return Failure(agents.status());
    v1::ListAgentsResponse list;
    for (v1::AgentInfo& agent : *agents) *list.add_agents() = std::move(agent);
    return Json(list);
  }
  if (parts.size() == 4 && parts[1] == "logs") {
    absl::StatusOr<v1::TaskInfo> task = coordinator_.GetTask(parts[2], parts[3]);
    if (!task.ok()) return Failure(task.status());
    uint64_t offset = 0;
    if (auto it = request.query.find("offset"); it != request.query.end() && !absl::SimpleAtoi(it->second, &offset)) {
      return HttpResponse::Text(400, "offset: expected a byte count\n");
    }
    absl::StatusOr<std::string> text = coordinator_.logs().Read(parts[2], task->spec().id(), offset, kLogChunk);
    if (!text.ok()) return NotFound(std::string(text.status().message()));
    HttpResponse response = HttpResponse::Text(200, *text);
    response.headers.emplace_back("X-Log-Next-Offset", absl::StrCat(offset + text->size()));
    response.headers.emplace_back("X-Task-State", StateName(task->state()));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }
  return NotFound("no such API route: " + request.path);
}

absl::StatusOr<SimpleIndex> WebService::PublishedIndex() {
  absl::StatusOr<std::vector<StoredWheel>> stored = coordinator_.ListWheels();
  if (!stored.ok()) return stored.status();
  std::vector<IndexedWheel> wheels;
  for (const StoredWheel& wheel : *stored) {
    wheels.push_back({VariantName(wheel.axes), wheel.artifact.filename(),
                      absl::StrCat("files/", wheel.build_id, "/", wheel.task_id, "/", wheel.artifact.filename()),
                      wheel.artifact.sha256()});
  }
  return SimpleIndex(wheels);
}

HttpResponse WebService::Index(const std::string& rest) {
  absl::StatusOr<SimpleIndex> published = PublishedIndex();
  if (!published.ok()) return Failure(published.status());
  const SimpleIndex& index = *published;
  const std::vector<std::string> parts = Segments(rest);
  if (parts.empty()) return Html(index.ProjectsPage(""));
  if (parts.size() == 1 && parts[0] == "variants") return Html(index.VariantsPage());
  // /simple/<variant>/... when the first part names a variant, else /simple/<project>/.
  const bool variant = index.HasVariant(parts[0]);
  if (variant && parts.size() == 1) return Html(index.ProjectsPage(parts[0]));
  const std::string project = NormalizeProjectName(parts[variant ? 1 : 0]);
  if (parts.size() != (variant ? 2u : 1u)) return NotFound("no such index page");
  std::optional<std::string> page = index.ProjectPage(variant ? parts[0] : "", project, "/");
  if (!page) return NotFound(absl::StrCat("no wheel of ", project, variant ? " in " + parts[0] : ""));
  return Html(*page);
}

HttpResponse WebService::Install(const HttpRequest& request) {
  absl::StatusOr<SimpleIndex> index = PublishedIndex();
  if (!index.ok()) return Failure(index.status());
  // The address the browser used; a TLS proxy in front says https. Neither reaches a shell or a
  // header: the page escapes them.
  const std::string scheme = request.forwarded_proto == "https" ? "https" : "http";
  const std::string host = request.host.empty() ? "HOST" : request.host;
  return Html(index->InstallPage(absl::StrCat(scheme, "://", host)));
}

HttpResponse WebService::File(const std::string& rest) {
  const std::vector<std::string> parts = Segments(rest);
  if (parts.size() != 3) return NotFound("expected /files/<build>/<task>/<wheel>");
  auto found = coordinator_.FindArtifact(parts[0], parts[1], parts[2]);
  if (!found.ok()) return Failure(found.status());
  HttpResponse response;
  response.content_type = "application/octet-stream";
  response.file = found->second;
  return response;
}

}  // namespace cwb
