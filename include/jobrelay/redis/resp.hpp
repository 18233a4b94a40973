// RESP, the Redis protocol, both ways and nothing else (no sockets): commands
// encoded as arrays of bulk strings, the one request form every command
// accepts (binary-safe, no quoting rules); replies parsed by hiredis' reader,
// fed whatever bytes arrive and asked for complete replies, which it builds
// directly as redis::reply through its object callbacks (so there is no
// redisReply tree to convert and free). A stream the reader cannot parse, or
// one reply larger than its limit, leaves it failed for good: the connection
// it reads is then unusable.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "jobrelay/redis/client.hpp"

struct redisReader;

namespace jobrelay::redis {

// Appends `cmd` to `out`, so that several commands make one write.
void append_command(std::string& out, const command& cmd);

std::string encode_commands(const std::vector<command>& cmds);

// PING, encoded (what connections send to prove a quiet peer alive).
const std::string& ping_command();

class reply_reader {
 public:
  explicit reply_reader(std::size_t max_reply_bytes);
  ~reply_reader();
  reply_reader(const reply_reader&) = delete;
  reply_reader& operator=(const reply_reader&) = delete;

  // False when the reader has failed (now or before).
  bool feed(const char* data, std::size_t size);
  // The next complete reply; nullopt when none is complete yet or failed().
  // Call until nullopt after each feed: the size limit is checked on what
  // is left over.
  std::optional<reply> next();

  bool failed() const;
  // What was wrong with the stream, for the log.
  std::string why() const;

  // Internal: the object callbacks count what they build here.
  bool charge(std::size_t bytes);

 private:
  std::size_t unparsed_bytes() const;

  redisReader* reader_;
  const std::size_t max_reply_bytes_;
  std::size_t built_bytes_ = 0;  // of the reply being built
  bool too_large_ = false;
};

}  // namespace jobrelay::redis
