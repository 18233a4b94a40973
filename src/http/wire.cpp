#include "jobrelay/http/wire.hpp"

namespace jobrelay::http {

void append_fields(std::string& out, const fields& fields) {
  for (const auto& f : fields) {
    const auto name = f.name_string();
    const auto value = f.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
}

}  // namespace jobrelay::http
