// The model file: two small CSV tables (GPUs, then tasks) in one file. See docs/model.md.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "fastgpu/core/brief_model.h"
#include "fastgpu/core/units.h"

namespace fastgpu::model {
namespace {

constexpr std::string_view kGpuHeader = "gpu,p";
constexpr std::string_view kTaskHeader = "task,u,r,m,C,L,P (and optionally gpu)";

// One trimmed cell and where it starts, for error messages.
struct Cell {
  std::string_view text;
  std::size_t column = 1;  // 1-based character column in the line
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

Cell trimmed_cell(std::string_view line, std::size_t begin, std::size_t end) {
  while (begin < end && is_space(line[begin])) ++begin;
  while (end > begin && is_space(line[end - 1])) --end;
  return {line.substr(begin, end - begin), begin + 1};
}

std::vector<Cell> split_cells(std::string_view line) {
  std::vector<Cell> cells;
  std::size_t begin = 0;
  for (std::size_t comma = line.find(','); comma != std::string_view::npos;
       comma = line.find(',', begin)) {
    cells.push_back(trimmed_cell(line, begin, comma));
    begin = comma + 1;
  }
  cells.push_back(trimmed_cell(line, begin, line.size()));
  return cells;
}

Result<double> parse_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end) {
    return invalid_argument(
        fmt::format("'{}' is not a number; write a plain decimal such as 0.6", text));
  }
  return value;
}

// The unit m_j was written in, so M_j can be shown in the same unit ("100MB" -> "MB").
struct MemoryUnit {
  std::string name = "B";
  double bytes = 1;
};

Result<MemoryUnit> memory_unit_of(std::string_view text) {
  const std::size_t suffix_start = text.find_first_not_of("0123456789. ");
  if (suffix_start == std::string_view::npos) return MemoryUnit{};
  std::string name(text.substr(suffix_start));
  const Result<Bytes> unit_bytes = parse_bytes("1" + name);
  FASTGPU_RETURN_IF_ERROR(unit_bytes.status());
  // units.h reads a bare K/M/G/T as binary; show it the way format_bytes does.
  if (name.size() == 1 && name != "B" && name != "b") {
    name =
        fmt::format("{}iB", static_cast<char>(std::toupper(static_cast<unsigned char>(name[0]))));
  }
  return MemoryUnit{name, static_cast<double>(*unit_bytes)};
}

template <typename Item>
bool has_name(const std::vector<Item>& items, std::string_view name) {
  return std::any_of(items.begin(), items.end(),
                     [&](const Item& item) { return item.name == name; });
}

Status duplicate_name(std::string_view kind, std::string_view name) {
  return invalid_argument(
      fmt::format("{} name '{}' appears twice; give each {} its own name", kind, name, kind));
}

enum class TableKind { kNone, kGpus, kTasks };

// Reads the file line by line into a TaskTable. Each method handles one kind of row.
class TableParser {
 public:
  explicit TableParser(std::string_view file_name) : file_name_(file_name) {}

  Status parse(std::string_view text);
  TaskTable take() { return std::move(table_); }

 private:
  Status parse_line(std::string_view line);
  Status start_table(TableKind kind, const std::vector<Cell>& header);
  Status check_columns(TableKind kind, const std::vector<Cell>& header);
  Status parse_gpu_row(const std::vector<Cell>& cells);
  Status parse_task_row(const std::vector<Cell>& cells);
  Status parse_task_field(std::string_view column, const Cell& cell, ModelTask& task);
  Status parse_memory(const Cell& cell, ModelTask& task);
  Result<double> parse_checked(ModelField field, const Cell& cell);
  Status resolve_gpu_names();
  Status check_placement() const;
  Status check_memory_divisors() const;
  Status finish();
  Status error_at(std::size_t column, const Status& status) const;

  std::string file_name_;
  TaskTable table_;
  std::size_t line_number_ = 0;
  TableKind current_ = TableKind::kNone;
  std::vector<std::string> columns_;  // of the current table, in file order
  bool seen_gpus_ = false;
  bool seen_tasks_ = false;
  // The GPU each task names, with its location, resolved once both tables are read.
  struct GpuReference {
    std::size_t task;
    std::string name;
    std::size_t line;
    std::size_t column;
  };
  std::vector<GpuReference> gpu_references_;
  std::vector<std::size_t> task_lines_;      // the line of each task row
  std::vector<std::size_t> task_u_columns_;  // and the column of its u cell
};

Status TableParser::error_at(std::size_t column, const Status& status) const {
  return Status(status.code(),
                fmt::format("{}:{}:{}: {}", file_name_, line_number_, column, status.message()));
}

Status TableParser::parse(std::string_view text) {
  // Excel's "CSV UTF-8" starts the file with a byte-order mark; it is not part of the
  // first cell.
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_number_;
    FASTGPU_RETURN_IF_ERROR(parse_line(line));
    begin = end + 1;
  }
  return finish();
}

Status TableParser::parse_line(std::string_view line) {
  const Cell whole = trimmed_cell(line, 0, line.size());
  if (whole.text.empty() || whole.text.front() == '#') return {};
  const std::vector<Cell> cells = split_cells(line);
  if (cells[0].text == "gpu") return start_table(TableKind::kGpus, cells);
  if (cells[0].text == "task") return start_table(TableKind::kTasks, cells);
  if (current_ == TableKind::kNone) {
    return error_at(whole.column,
                    invalid_argument(fmt::format("a data row before any header row; start the "
                                                 "GPU table with '{}' and the task table with '{}'",
                                                 kGpuHeader, kTaskHeader)));
  }
  if (cells.size() != columns_.size()) {
    return error_at(whole.column, invalid_argument(fmt::format(
                                      "this row has {} cells but the header names {} columns; "
                                      "give one cell per column (leave optional cells empty)",
                                      cells.size(), columns_.size())));
  }
  return current_ == TableKind::kGpus ? parse_gpu_row(cells) : parse_task_row(cells);
}

Status TableParser::start_table(TableKind kind, const std::vector<Cell>& header) {
  bool& seen = kind == TableKind::kGpus ? seen_gpus_ : seen_tasks_;
  if (seen) {
    return error_at(
        1, invalid_argument(fmt::format(
               "a second '{}' table; put all its rows under one header row", header[0].text)));
  }
  seen = true;
  FASTGPU_RETURN_IF_ERROR(check_columns(kind, header));
  current_ = kind;
  columns_.clear();
  for (const Cell& cell : header) columns_.emplace_back(cell.text);
  return {};
}

Status TableParser::check_columns(TableKind kind, const std::vector<Cell>& header) {
  const bool gpus = kind == TableKind::kGpus;
  const std::vector<std::string_view> required =
      gpus ? std::vector<std::string_view>{"gpu", "p"}
           : std::vector<std::string_view>{"task", "u", "r", "m", "C", "L", "P"};
  const std::string_view expected = gpus ? kGpuHeader : kTaskHeader;
  std::map<std::string_view, std::size_t> found;
  for (const Cell& cell : header) {
    const bool known = std::find(required.begin(), required.end(), cell.text) != required.end() ||
                       (!gpus && cell.text == "gpu");
    if (!known || !found.emplace(cell.text, cell.column).second) {
      return error_at(cell.column, invalid_argument(fmt::format(
                                       "column '{}' is {}; the header must be {} (names are "
                                       "case-sensitive)",
                                       cell.text, known ? "repeated" : "unknown", expected)));
    }
  }
  for (std::string_view name : required) {
    if (found.count(name) == 0) {
      return error_at(1, invalid_argument(fmt::format("missing column '{}'; the header must be {}",
                                                      name, expected)));
    }
  }
  return {};
}

Result<double> TableParser::parse_checked(ModelField field, const Cell& cell) {
  Result<double> value = parse_number(cell.text);
  const Status status = value.ok() ? check_value(field, *value) : value.status();
  if (!status.ok()) {
    return error_at(cell.column,
                    status.with_context(fmt::format("column {}", field_symbol(field))));
  }
  return value;
}

Status TableParser::parse_gpu_row(const std::vector<Cell>& cells) {
  ModelGpu gpu;
  for (std::size_t k = 0; k < cells.size(); ++k) {
    if (columns_[k] == "gpu") gpu.name = std::string(cells[k].text);
    if (columns_[k] != "p") continue;
    const Result<double> weight = parse_checked(ModelField::kAllocationWeight, cells[k]);
    FASTGPU_RETURN_IF_ERROR(weight.status());
    gpu.allocation_weight = *weight;
  }
  if (gpu.name.empty()) {
    return error_at(cells[0].column, invalid_argument("the GPU has no name; name it (e.g. gpu1)"));
  }
  if (has_name(table_.gpus, gpu.name))
    return error_at(cells[0].column, duplicate_name("GPU", gpu.name));
  table_.gpus.push_back(std::move(gpu));
  return {};
}

Status TableParser::parse_memory(const Cell& cell, ModelTask& task) {
  const Result<Bytes> bytes = parse_bytes(cell.text);
  if (!bytes.ok()) return error_at(cell.column, bytes.status().with_context("column m"));
  const Result<MemoryUnit> unit = memory_unit_of(cell.text);
  if (!unit.ok()) return error_at(cell.column, unit.status().with_context("column m"));
  task.memory_bytes = static_cast<double>(*bytes);
  task.memory_unit = unit->name;
  task.memory_unit_bytes = unit->bytes;
  return {};
}

Status TableParser::parse_task_field(std::string_view column, const Cell& cell, ModelTask& task) {
  static const std::map<std::string_view, std::pair<ModelField, double ModelTask::*>> plain_fields =
      {
          {"u", {ModelField::kUtilizationShare, &ModelTask::utilization_share}},
          {"r", {ModelField::kUtilizationCap, &ModelTask::utilization_cap}},
          {"L", {ModelField::kLoad, &ModelTask::load}},
          {"P", {ModelField::kPriority, &ModelTask::priority}},
      };
  if (const auto plain = plain_fields.find(column); plain != plain_fields.end()) {
    const Result<double> value = parse_checked(plain->second.first, cell);
    FASTGPU_RETURN_IF_ERROR(value.status());
    task.*(plain->second.second) = *value;
    return {};
  }
  if (cell.text.empty()) return {};  // m, C and gpu may be left empty
  if (column == "m") return parse_memory(cell, task);
  if (column == "C") {
    const Result<Seconds> limit = parse_duration(cell.text);
    if (!limit.ok()) return error_at(cell.column, limit.status().with_context("column C"));
    const Status range = check_value(ModelField::kTimeLimit, limit->count());
    if (!range.ok()) return error_at(cell.column, range.with_context("column C"));
    task.time_limit_seconds = limit->count();
  }
  if (column == "gpu") {
    gpu_references_.push_back(
        {table_.tasks.size(), std::string(cell.text), line_number_, cell.column});
  }
  return {};
}

Status TableParser::parse_task_row(const std::vector<Cell>& cells) {
  ModelTask task;
  std::size_t u_column = 1;
  for (std::size_t k = 0; k < cells.size(); ++k) {
    if (columns_[k] == "task") {
      task.name = std::string(cells[k].text);
      continue;
    }
    if (columns_[k] == "u") u_column = cells[k].column;
    FASTGPU_RETURN_IF_ERROR(parse_task_field(columns_[k], cells[k], task));
  }
  if (task.name.empty()) {
    return error_at(cells[0].column, invalid_argument("the task has no name; name it (e.g. t1)"));
  }
  if (has_name(table_.tasks, task.name)) {
    return error_at(cells[0].column, duplicate_name("task", task.name));
  }
  task_lines_.push_back(line_number_);
  task_u_columns_.push_back(u_column);
  table_.tasks.push_back(std::move(task));
  return {};
}

Status TableParser::resolve_gpu_names() {
  for (const GpuReference& ref : gpu_references_) {
    const auto& gpus = table_.gpus;
    const auto found = std::find_if(gpus.begin(), gpus.end(),
                                    [&](const ModelGpu& gpu) { return gpu.name == ref.name; });
    if (found == gpus.end()) {
      return invalid_argument(fmt::format(
          "{}:{}:{}: task '{}' is on GPU '{}', which the GPU table does not list; use a name "
          "from the 'gpu' column of the GPU table",
          file_name_, ref.line, ref.column, table_.tasks[ref.task].name, ref.name));
    }
    table_.tasks[ref.task].gpu = static_cast<std::size_t>(found - gpus.begin());
  }
  return {};
}

// The brief's formulas need every task placed on a GPU, or none (see brief_model.h).
Status TableParser::check_placement() const {
  const ModelTask& first = table_.tasks.front();
  for (std::size_t j = 1; j < table_.tasks.size(); ++j) {
    const ModelTask& task = table_.tasks[j];
    if (task.gpu.has_value() == first.gpu.has_value()) continue;
    const std::string mismatch = task.gpu
                                     ? fmt::format("names a GPU but task '{}' does not", first.name)
                                     : fmt::format("names no GPU but task '{}' does", first.name);
    return invalid_argument(fmt::format(
        "{}:{}:1: task '{}' {}; name a GPU for every task, or for none (then every task "
        "counts on every GPU)",
        file_name_, task_lines_[j], task.name, mismatch));
  }
  return {};
}

// evaluate() refuses R_j = 0 for a task whose M_j is asked for (it has m and C); refused
// here first, so that the error gives the task's place. R_j sums the task's own u*r, and r
// is above 0, so its u is 0: the place is its u cell.
Status TableParser::check_memory_divisors() const {
  for (std::size_t j = 0; j < table_.tasks.size(); ++j) {
    const ModelTask& task = table_.tasks[j];
    if (!task.memory_bytes || !task.time_limit_seconds || task_occupancy(table_, j) > 0) continue;
    return invalid_argument(fmt::format(
        "{}:{}:{}: task '{}': R_j = 0, and M_j = m_j * C_j / R_j divides by it; give the task "
        "a utilization share u > 0, or leave its m or C empty",
        file_name_, task_lines_[j], task_u_columns_[j], task.name));
  }
  return {};
}

Status TableParser::finish() {
  if (table_.gpus.empty()) {
    return invalid_argument(
        fmt::format("{}: no GPU rows; add a header row '{}' and one row per GPU (e.g. gpu1,0.6)",
                    file_name_, kGpuHeader));
  }
  if (table_.tasks.empty()) {
    return invalid_argument(fmt::format(
        "{}: no task rows; add a header row '{}' and one row per task", file_name_, kTaskHeader));
  }
  FASTGPU_RETURN_IF_ERROR(resolve_gpu_names());
  FASTGPU_RETURN_IF_ERROR(check_placement());
  const Status valid = validate(table_);
  if (!valid.ok()) return valid.with_context(file_name_);
  return check_memory_divisors();
}

}  // namespace

Result<TaskTable> parse_task_table(std::string_view text, std::string_view file_name) {
  TableParser parser(file_name);
  FASTGPU_RETURN_IF_ERROR(parser.parse(text));
  return parser.take();
}

Result<TaskTable> load_task_table(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return not_found(
        fmt::format("{}: no such file; give the path of a model file (see "
                    "examples/seed-model.csv)",
                    path.string()));
  }
  if (std::filesystem::is_directory(path, error)) {
    return invalid_argument(
        fmt::format("{}: is a directory; give the path of a model file", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return io_error(fmt::format("{}: cannot be opened; check its permissions", path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return io_error(fmt::format("{}: reading failed", path.string()));
  return parse_task_table(text.str(), path.string());
}

}  // namespace fastgpu::model
