// The HTTP message types the server, router and handlers share.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <initializer_list>
#include <string_view>

#include "jobrelay/http/field_allocator.hpp"

namespace jobrelay::http {

namespace bhttp = boost::beast::http;
using fields = bhttp::basic_fields<field_allocator<char>>;
using request = bhttp::message<true, bhttp::string_body, fields>;
using response = bhttp::message<false, bhttp::string_body, fields>;
using status = bhttp::status;
using verb = bhttp::verb;
using field = bhttp::field;

// The first value of a known field, found by walking the fields in order:
// for the handful a request or an answer carries, cheaper than
// basic_fields' own lookup (a tree search comparing names case-insensitively,
// after spelling the field's name). Empty when absent.
inline std::string_view first_value(const fields& f, field name) {
  for (const auto& element : f) {
    if (element.name() == name) return {element.value().data(), element.value().size()};
  }
  return {};
}

// Whether any of the fields is one of these.
inline bool has_any(const fields& f, std::initializer_list<field> names) {
  for (const auto& element : f) {
    for (const field name : names)
      if (element.name() == name) return true;
  }
  return false;
}

}  // namespace jobrelay::http
