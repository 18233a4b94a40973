#include "request_builder.hpp"

#include "jobrelay/text.hpp"

namespace jobrelay::upstream::detail {
namespace {

// The defaults a call's own header of the same name replaces.
bool replaces_default(std::string_view name) {
  return iequals_ascii(name, "host") || iequals_ascii(name, "user-agent") ||
         iequals_ascii(name, "content-type");
}

// Repeated names the call sends (several X-Foo) all go out, but of a
// replacing header only the last counts, as a field set twice.
bool overridden_later(const header_list& headers, std::size_t index) {
  for (std::size_t i = index + 1; i < headers.size(); ++i)
    if (iequals_ascii(headers[i].first, headers[index].first)) return true;
  return false;
}

bool call_sets(const header_list& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (iequals_ascii(key, name)) return true;
  return false;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

std::string request_bytes(const http_call& call, const target& where) {
  const std::string_view method = call.method.empty() ? std::string_view("GET") : call.method;
  std::string out;
  out.reserve(128 + where.path.size() + where.host_header.size() + call.body.size());
  out += method;
  out += ' ';
  out += where.path;
  out += " HTTP/1.1\r\n";
  if (!call_sets(call.headers, "host")) append_field(out, "Host", where.host_header);
  if (!call_sets(call.headers, "user-agent")) append_field(out, "User-Agent", user_agent);
  if (!call.body.empty() && !call_sets(call.headers, "content-type"))
    append_field(out, "Content-Type", "application/json");
  for (std::size_t i = 0; i < call.headers.size(); ++i) {
    const auto& [name, value] = call.headers[i];
    if (replaces_default(name) && overridden_later(call.headers, i)) continue;
    append_field(out, name, value);
  }
  // As Beast's prepare_payload: a length whenever there is a body, and for
  // the methods that carry one even when it is empty.
  if (!call.body.empty() || method == "POST" || method == "PUT" || method == "OPTIONS") {
    out += "Content-Length: ";
    out += std::to_string(call.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += call.body;
  return out;
}

}  // namespace jobrelay::upstream::detail
