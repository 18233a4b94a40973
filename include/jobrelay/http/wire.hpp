// Header fields as they go on the wire, for the heads written by hand (the
// server's answers, the upstream client's requests) instead of by Beast's
// serializer.
#pragma once

#include <string>

#include "jobrelay/http/message.hpp"

namespace jobrelay::http {

// Appends each field as "Name: value\r\n", in order.
void append_fields(std::string& out, const fields& fields);

}  // namespace jobrelay::http
