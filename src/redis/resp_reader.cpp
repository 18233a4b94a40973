#include <hiredis/read.h>

#include <algorithm>
#include <memory>
#include <new>
#include <utility>

#include "jobrelay/redis/resp.hpp"

namespace jobrelay::redis {

namespace {

reply::kind kind_of(int hiredis_type) {
  switch (hiredis_type) {
    case REDIS_REPLY_STRING:
      return reply::kind::string;
    case REDIS_REPLY_STATUS:
      return reply::kind::status;
    case REDIS_REPLY_ERROR:
      return reply::kind::error;
    case REDIS_REPLY_INTEGER:
      return reply::kind::integer;
    case REDIS_REPLY_ARRAY:
      return reply::kind::array;
    default:
      return reply::kind::nil;
  }
}

// Places a new value where hiredis says it belongs: a root on the heap (the
// reader hands it back from redisReaderGetReply), an element at the end of
// its parent array (elements arrive in order). The address of an element
// stays valid while hiredis uses it: only the innermost open array grows,
// and an array being filled is always the last element of its parent.
// Returns nullptr on failure, which hiredis turns into a reader error; no
// exception may cross its C frames.
void* place(const redisReadTask* task, reply&& value, std::size_t payload) noexcept {
  auto* self = static_cast<reply_reader*>(task->privdata);
  if (!self->charge(sizeof(reply) + payload)) return nullptr;
  try {
    if (task->parent == nullptr) return new reply(std::move(value));
    auto* parent = static_cast<reply*>(task->parent->obj);
    parent->elements.push_back(std::move(value));
    return &parent->elements.back();
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void* create_string(const redisReadTask* task, char* data, std::size_t size) {
  reply value;
  value.type = kind_of(task->type);
  try {
    value.str.assign(data, size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return place(task, std::move(value), size);
}

void* create_array(const redisReadTask* task, int count) {
  reply value;
  value.type = reply::kind::array;
  try {
    // The count is the peer's claim; memory is spent as elements arrive.
    value.elements.reserve(static_cast<std::size_t>(std::clamp(count, 0, 1024)));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return place(task, std::move(value), 0);
}

void* create_integer(const redisReadTask* task, long long number) {
  reply value;
  value.type = reply::kind::integer;
  value.integer = number;
  return place(task, std::move(value), 0);
}

void* create_nil(const redisReadTask* task) {
  return place(task, reply{}, 0);
}

// hiredis 0.14 frees only the root it was building (on an error, or when the
// reader goes away mid-reply); elements belong to their root.
void free_object(void* object) {
  delete static_cast<reply*>(object);
}

redisReplyObjectFunctions reply_functions = {create_string, create_array, create_integer,
                                             create_nil, free_object};

}  // namespace

reply_reader::reply_reader(std::size_t max_reply_bytes)
    : reader_(redisReaderCreateWithFunctions(&reply_functions)), max_reply_bytes_(max_reply_bytes) {
  if (reader_ == nullptr) throw std::bad_alloc();
  // (hiredis' redisReaderSetPrivdata casts the pointer to int.)
  reader_->privdata = this;
}

reply_reader::~reply_reader() {
  redisReaderFree(reader_);
}

std::size_t reply_reader::unparsed_bytes() const {
  return reader_->buf == nullptr ? 0 : reader_->len - reader_->pos;
}

bool reply_reader::charge(std::size_t bytes) {
  // Counts what is built, not what is buffered: the buffer may already hold
  // the next replies too.
  built_bytes_ += bytes;
  if (built_bytes_ > max_reply_bytes_) too_large_ = true;
  return !too_large_;
}

bool reply_reader::feed(const char* data, std::size_t size) {
  if (failed()) return false;
  return redisReaderFeed(reader_, data, size) == REDIS_OK;
}

std::optional<reply> reply_reader::next() {
  if (failed()) return std::nullopt;
  void* object = nullptr;
  if (redisReaderGetReply(reader_, &object) != REDIS_OK) return std::nullopt;
  if (object == nullptr) {
    // What is left is one incomplete reply (a bulk string announced as huge
    // waits whole in hiredis' buffer): its growth stops here, at most one
    // read past the limit.
    if (unparsed_bytes() + built_bytes_ > max_reply_bytes_) too_large_ = true;
    return std::nullopt;
  }
  std::unique_ptr<reply> root(static_cast<reply*>(object));
  built_bytes_ = 0;
  return std::move(*root);
}

bool reply_reader::failed() const {
  return too_large_ || reader_->err != 0;
}

std::string reply_reader::why() const {
  if (too_large_) {
    return "a reply larger than " + std::to_string(max_reply_bytes_) + " bytes";
  }
  if (reader_->err != 0) return std::string("protocol error: ") + reader_->errstr;
  return {};
}

}  // namespace jobrelay::redis
