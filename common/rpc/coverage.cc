#include "common/rpc/coverage.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/local_version.h"
#include "common/rpc/task_proto.h"

namespace cwb {
namespace {

// The status and reason a result gives its cell.
void ApplyResult(const v1::TaskInfo& result, const WheelCheck& check, v1::CoverageCell& cell) {
  if (result.has_audit()) *cell.mutable_audit() = result.audit();
  switch (result.state()) {
    case v1::TASK_STATE_SUCCEEDED:
      for (const v1::ArtifactInfo& artifact : result.artifacts()) {
        if (std::string why = check(artifact); !why.empty()) {
          cell.set_status(v1::COVERAGE_STATUS_MISSING);
          cell.set_reason(why);
          cell.clear_wheels();
          return;
        }
        cell.add_wheels(artifact.wheelhouse_path());
      }
      cell.set_status(v1::COVERAGE_STATUS_BUILT);
      cell.set_untested(result.untested());
      if (result.untested()) cell.set_reason("untested: its smoke test needs a GPU no agent had");
      return;
    case v1::TASK_STATE_BUILT:
      cell.set_status(v1::COVERAGE_STATUS_MISSING);
      cell.set_reason("built, waiting for a GPU to test (its wheels are held back)");
      return;
    case v1::TASK_STATE_FAILED:
      cell.set_status(v1::COVERAGE_STATUS_FAILED);
      cell.set_reason(result.message());
      return;
    case v1::TASK_STATE_CANCELLED:
      cell.set_status(v1::COVERAGE_STATUS_MISSING);
      cell.set_reason(result.message().empty() ? "cancelled" : absl::StrCat("cancelled: ", result.message()));
      return;
    case v1::TASK_STATE_ASSIGNED:
    case v1::TASK_STATE_RUNNING:
      cell.set_status(v1::COVERAGE_STATUS_MISSING);
      cell.set_reason(absl::StrCat("building on agent ", result.agent_id()));
      return;
    default:
      cell.set_status(v1::COVERAGE_STATUS_MISSING);
      cell.set_reason(result.waiting_reason().empty() ? "queued" : absl::StrCat("queued: ", result.waiting_reason()));
      return;
  }
}

// Text inside Markdown: one line, with the characters that would start markup escaped.
std::string MarkdownText(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      out.push_back(' ');
      continue;
    }
    if (std::string_view("\\`*_[]<>|#").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

const char* Symbol(v1::CoverageStatus status) {
  switch (status) {
    case v1::COVERAGE_STATUS_BUILT: return "✅";
    case v1::COVERAGE_STATUS_FAILED: return "❌";
    case v1::COVERAGE_STATUS_UNSUPPORTED: return "➖";
    default: return "⬜";
  }
}

// The column of a cell in a project's grid: its variant without the Python version.
std::string ColumnOf(const v1::CoverageCell& cell) {
  return absl::StrJoin(VariantParts(AxesFromProto(cell.axes())), " ");
}

std::string PythonOf(const v1::CoverageCell& cell) { return AxisOrEmpty(AxesFromProto(cell.axes()), kPythonAxis); }

}  // namespace

std::string CellKey(const v1::TaskSpec& spec) {
  std::string key = spec.project();
  for (const v1::AxisValue& axis : spec.axes()) absl::StrAppend(&key, "\n", axis.name(), "=", axis.value());
  return key;
}

v1::CoverageReport MakeCoverage(const std::string& config_name, const std::vector<const v1::TaskSpec*>& planned,
                                const google::protobuf::RepeatedPtrField<v1::UnsupportedTarget>& unsupported,
                                const std::vector<const v1::TaskInfo*>& results, const WheelCheck& check) {
  std::map<std::string, const v1::TaskInfo*> latest;
  for (const v1::TaskInfo* result : results) {
    const v1::TaskInfo*& slot = latest[CellKey(result->spec())];
    if (slot == nullptr || result->finished_at_ms() >= slot->finished_at_ms()) slot = result;
  }
  v1::CoverageReport report;
  report.set_config_name(config_name);
  for (const v1::TaskSpec* spec : planned) {
    v1::CoverageCell& cell = *report.add_cells();
    cell.set_project(spec->project());
    *cell.mutable_axes() = spec->axes();
    cell.set_task_id(spec->id());
    auto found = latest.find(CellKey(*spec));
    if (found == latest.end()) {
      cell.set_status(v1::COVERAGE_STATUS_MISSING);
      cell.set_reason("not built");
      continue;
    }
    cell.set_outdated(found->second->spec().id() != spec->id());
    ApplyResult(*found->second, check, cell);
  }
  for (const v1::UnsupportedTarget& target : unsupported) {
    v1::CoverageCell& cell = *report.add_cells();
    *cell.mutable_axes() = target.axes();
    cell.set_status(v1::COVERAGE_STATUS_UNSUPPORTED);
    cell.set_reason(target.reason());
  }
  for (const v1::CoverageCell& cell : report.cells()) {
    switch (cell.status()) {
      case v1::COVERAGE_STATUS_BUILT: report.set_built(report.built() + 1); break;
      case v1::COVERAGE_STATUS_FAILED: report.set_failed(report.failed() + 1); break;
      case v1::COVERAGE_STATUS_UNSUPPORTED: report.set_unsupported(report.unsupported() + 1); break;
      default: report.set_missing(report.missing() + 1); break;
    }
  }
  return report;
}

std::string CoverageStatusName(v1::CoverageStatus status) {
  switch (status) {
    case v1::COVERAGE_STATUS_BUILT: return "built";
    case v1::COVERAGE_STATUS_FAILED: return "failed";
    case v1::COVERAGE_STATUS_UNSUPPORTED: return "unsupported";
    default: return "missing";
  }
}

std::string CoverageMarkdown(const v1::CoverageReport& report, const WheelLink& link) {
  std::string md = absl::StrCat("## Wheel coverage of `", MarkdownText(report.config_name()), "`\n\n");
  const uint32_t supported = report.built() + report.failed() + report.missing();
  absl::StrAppend(&md, "**", report.built(), " of ", supported, "** cells built, ", report.failed(), " failed, ",
                  report.missing(), " missing", report.unsupported() > 0 ? absl::StrCat("; ", report.unsupported(), " combination(s) no PyTorch release supports") : "",
                  ".\n");

  // One grid per project, in plan order; unsupported combinations show where the grid has their
  // row and column.
  std::vector<std::string> projects;
  for (const v1::CoverageCell& cell : report.cells()) {
    if (!cell.project().empty() && std::find(projects.begin(), projects.end(), cell.project()) == projects.end()) {
      projects.push_back(cell.project());
    }
  }
  for (const std::string& project : projects) {
    std::vector<std::string> rows, columns;
    std::map<std::pair<std::string, std::string>, const v1::CoverageCell*> grid;
    for (const v1::CoverageCell& cell : report.cells()) {
      if (cell.project() != project) continue;
      const std::string row = PythonOf(cell), column = ColumnOf(cell);
      if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
      if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(column);
      grid[{row, column}] = &cell;
    }
    for (const v1::CoverageCell& cell : report.cells()) {
      if (cell.status() == v1::COVERAGE_STATUS_UNSUPPORTED) grid.emplace(std::pair{PythonOf(cell), ColumnOf(cell)}, &cell);
    }
    absl::StrAppend(&md, "\n### ", MarkdownText(project), "\n\n| Python |");
    for (const std::string& column : columns) absl::StrAppend(&md, " ", MarkdownText(column), " |");
    absl::StrAppend(&md, "\n| :-- |");
    for (size_t i = 0; i < columns.size(); ++i) absl::StrAppend(&md, " :-: |");
    md += "\n";
    for (const std::string& row : rows) {
      absl::StrAppend(&md, "| ", MarkdownText(row), " |");
      for (const std::string& column : columns) {
        auto found = grid.find({row, column});
        std::string text;
        if (found != grid.end()) {
          const v1::CoverageCell& cell = *found->second;
          if (cell.status() != v1::COVERAGE_STATUS_BUILT) text = Symbol(cell.status());
          for (const std::string& wheel : cell.wheels()) {
            const std::string name = wheel.substr(wheel.rfind('/') + 1);
            absl::StrAppend(&text, text.empty() ? "" : " ", cell.untested() ? "[⚠️ untested](" : "[✅](",
                            link(cell, wheel), " \"", MarkdownText(name), "\")");
          }
        }
        absl::StrAppend(&md, " ", text, " |");
      }
      md += "\n";
    }
  }

  std::string not_built;
  for (const v1::CoverageCell& cell : report.cells()) {
    if (cell.status() == v1::COVERAGE_STATUS_BUILT) continue;
    std::vector<std::string> axes;
    for (const v1::AxisValue& axis : cell.axes()) axes.push_back(absl::StrCat(axis.name(), " ", axis.value()));
    absl::StrAppend(&not_built, "- ", Symbol(cell.status()), " ",
                    cell.project().empty() ? "every project" : absl::StrCat("**", MarkdownText(cell.project()), "**"),
                    ", ", MarkdownText(absl::StrJoin(axes, ", ")), ": ", MarkdownText(cell.reason()), "\n");
  }
  if (!not_built.empty()) absl::StrAppend(&md, "\nNot built:\n\n", not_built);
  absl::StrAppend(&md, "\n✅ built (links to the wheel) · ❌ failed · ⬜ missing · ➖ no PyTorch release supports it\n");
  return md;
}

}  // namespace cwb
