#include <charconv>

#include "jobrelay/redis/resp.hpp"

namespace jobrelay::redis {

namespace {

void append_header(std::string& out, char kind, std::size_t count) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, count);
  out.push_back(kind);
  out.append(digits, end);
  out.append("\r\n", 2);
}

}  // namespace

void append_command(std::string& out, const command& cmd) {
  std::size_t size = 16;
  for (const auto& arg : cmd) size += arg.size() + 16;
  out.reserve(out.size() + size);
  append_header(out, '*', cmd.size());
  for (const auto& arg : cmd) {
    append_header(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n", 2);
  }
}

std::string encode_commands(const std::vector<command>& cmds) {
  std::string out;
  for (const auto& cmd : cmds) append_command(out, cmd);
  return out;
}

const std::string& ping_command() {
  static const std::string ping = encode_commands({{"PING"}});
  return ping;
}

}  // namespace jobrelay::redis
