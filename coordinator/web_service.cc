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
  if (parts.size() == 4 && parts[1] == "logs") return Log(parts[2], parts[3], request);
  return NotFound("no such API route: " + request.path);
}

// A task's log, in one of three windows: `?offset=N` what follows byte N (following a live log),
// `?tail=N` its last N lines (where a log view opens: the end of a long log at once), `?before=N`
// the whole lines that end at byte N (earlier lines, loaded on demand). Each answers at most
// kLogChunk bytes, with X-Log-Start-Offset and X-Log-Next-Offset saying which bytes it holds.
HttpResponse WebService::Log(const std::string& build_id, const std::string& task_id, const HttpRequest& request) {
  absl::StatusOr<v1::TaskInfo> task = coordinator_.GetTask(build_id, task_id);
  if (!task.ok()) return Failure(task.status());
  auto number = [&](const char* name, uint64_t* value) {
    auto it = request.query.find(name);
    return it == request.query.end() || absl::SimpleAtoi(it->second, value);
  };
  uint64_t offset = 0, tail = 0, before = 0;
  if (!number("offset", &offset) || !number("tail", &tail) || !number("before", &before)) {
    return HttpResponse::Text(400, "offset, tail, before: expected a count\n");
  }
  LogStore& logs = coordinator_.logs();
  const std::string& task_key = task->spec().id();
  size_t length = kLogChunk;
  if (tail > 0) {
    absl::StatusOr<uint64_t> start = logs.TailOffset(build_id, task_key, std::min<uint64_t>(tail, LogStore::kMaxTailLines));
    if (!start.ok()) return NotFound(std::string(start.status().message()));
    offset = *start;
  } else if (request.query.contains("before")) {
    offset = before > kLogChunk ? before - kLogChunk : 0;
    length = static_cast<size_t>(before - offset);
  }
  absl::StatusOr<std::string> text = logs.Read(build_id, task_key, offset, length);
  if (!text.ok()) return NotFound(std::string(text.status().message()));
  if (request.query.contains("before") && offset > 0) {
    // Whole lines only: what precedes the first line break belongs to a line cut by the window.
    const size_t line_start = text->find('\n');
    const size_t drop = line_start == std::string::npos ? text->size() : line_start + 1;
    text->erase(0, drop);
    offset += drop;
  }
  HttpResponse response = HttpResponse::Text(200, *text);
  response.headers.emplace_back("X-Log-Start-Offset", absl::StrCat(offset));
  response.headers.emplace_back("X-Log-Next-Offset", absl::StrCat(offset + text->size()));
  response.headers.emplace_back("X-Task-State", StateName(task->state()));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
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
