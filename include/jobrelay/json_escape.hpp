// JSON string text (RFC 8259) for documents and log lines written by hand
// rather than through a JSON library: one place that gets escaping right.
#pragma once

#include <string>
#include <string_view>

namespace jobrelay {

// Appends `text` escaped for the inside of a JSON string (no quotes).
// Control characters and DEL become \u00XX; a byte sequence that is not
// UTF-8 becomes U+FFFD, so the output is always a valid JSON string even when
// the text came from a peer (nlohmann's dump() throws on such bytes).
void append_json_escaped(std::string& out, std::string_view text);

// The same between double quotes.
void append_json_string(std::string& out, std::string_view text);

}  // namespace jobrelay
