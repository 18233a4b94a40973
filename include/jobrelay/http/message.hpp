// The HTTP message types the server, router and handlers share.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "jobrelay/http/field_allocator.hpp"

namespace jobrelay::http {

namespace bhttp = boost::beast::http;
using fields = bhttp::basic_fields<field_allocator<char>>;
using request = bhttp::message<true, bhttp::string_body, fields>;
using response = bhttp::message<false, bhttp::string_body, fields>;
using status = bhttp::status;
using verb = bhttp::verb;
using field = bhttp::field;

}  // namespace jobrelay::http
