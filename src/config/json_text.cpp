#include "json_text.hpp"

#include <set>
#include <vector>

#include "jobrelay/json_guard.hpp"

namespace jobrelay::config_detail {
namespace {

using json = nlohmann::json;

// nlohmann's parser callback sees keys but not their paths; this stack
// rebuilds the dotted path so the message names the key like every other.
class duplicate_finder {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        frames_.push_back({child_path(), {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!frames_.empty()) {
          auto& f = frames_.back();
          f.last_key = parsed.get<std::string>();
          if (!f.seen.insert(f.last_key).second && first_duplicate_.empty())
            first_duplicate_ = join(f.path, f.last_key);
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  }

  const std::string& first_duplicate() const { return first_duplicate_; }

 private:
  struct frame {
    std::string path;
    std::set<std::string> seen;
    std::string last_key;  // empty inside arrays
  };

  static std::string join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }

  std::string child_path() const {
    if (frames_.empty()) return {};
    const auto& top = frames_.back();
    return top.last_key.empty() ? top.path + "[]" : join(top.path, top.last_key);
  }

  std::vector<frame> frames_;
  std::string first_duplicate_;
};

const char* type_phrase(const json& v) {
  switch (v.type()) {
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

}  // namespace

std::variant<json, std::string> parse_config_document(const std::string& text) {
  // nlohmann's parser recurses and the finder copies a path per level: a file
  // nested a million deep took gigabytes and minutes before saying anything.
  // A configuration is a few levels deep.
  constexpr std::size_t max_depth = 16;
  if (const auto shape = validate_json(text, max_depth);
      !shape && shape.error() == errc::json_too_deep)
    return "invalid JSON: nested deeper than " + std::to_string(max_depth) + " levels";
  duplicate_finder finder;
  json doc;
  try {
    // The callback is copied into the parser; keep ours by reference.
    doc = json::parse(text,
                      [&finder](int d, json::parse_event_t e, json& p) { return finder(d, e, p); });
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line L, column C: ...".
    std::string what = e.what();
    const auto tag_end = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && tag_end != std::string::npos)
      what.erase(0, tag_end + 2);
    return "invalid JSON: " + what;
  } catch (const std::exception& e) {
    return std::string("invalid JSON: ") + e.what();
  }
  if (!doc.is_object())
    return std::string("the configuration must be a JSON object, got ") + type_phrase(doc);
  if (!finder.first_duplicate().empty())
    return "duplicate key \"" + finder.first_duplicate() + "\"";
  return doc;
}

}  // namespace jobrelay::config_detail
