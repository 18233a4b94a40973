#include "jobrelay/http/field_allocator.hpp"

#include <array>
#include <new>

namespace jobrelay::http::detail {

namespace {

// Classes by the block sizes a poll's fields need (an element is ~50 bytes
// plus name and value); bigger blocks go straight to operator new.
constexpr std::array<std::size_t, 4> class_bytes{64, 128, 256, 512};
// Enough for the fields of a burst of requests in flight on one thread;
// beyond that blocks go back to malloc, so the cache stays under ~120 KB.
constexpr std::size_t max_kept_per_class = 128;

struct free_block {
  free_block* next;
};

// Trivially destructible on purpose: it stays usable while the thread ends,
// when a field freed late is simply handed to operator delete.
struct block_cache {
  std::array<free_block*, class_bytes.size()> head{};
  std::array<std::size_t, class_bytes.size()> kept{};
  bool closer_armed = false;
  bool closed = false;
};

thread_local block_cache cache;

// Gives the cached blocks back when the thread ends.
struct cache_closer {
  bool armed = false;
  ~cache_closer() {
    cache.closed = true;
    for (std::size_t c = 0; c < class_bytes.size(); ++c) {
      while (free_block* b = cache.head[c]) {
        cache.head[c] = b->next;
        ::operator delete(b, class_bytes[c]);
      }
      cache.kept[c] = 0;
    }
  }
};

thread_local cache_closer closer;

int class_of(std::size_t bytes) {
  for (std::size_t c = 0; c < class_bytes.size(); ++c)
    if (bytes <= class_bytes[c]) return static_cast<int>(c);
  return -1;
}

}  // namespace

void* take_field_block(std::size_t bytes) {
  const int c = class_of(bytes);
  if (c < 0) return ::operator new(bytes);
  if (free_block* b = cache.head[c]) {
    cache.head[c] = b->next;
    --cache.kept[c];
    return b;
  }
  return ::operator new(class_bytes[c]);
}

void give_field_block(void* block, std::size_t bytes) noexcept {
  const int c = class_of(bytes);
  if (c < 0) return ::operator delete(block, bytes);
  if (cache.closed || cache.kept[c] >= max_kept_per_class)
    return ::operator delete(block, class_bytes[c]);
  if (!cache.closer_armed) {
    closer.armed = true;  // the first use constructs it and registers its destructor
    cache.closer_armed = true;
  }
  auto* b = static_cast<free_block*>(block);
  b->next = cache.head[c];
  cache.head[c] = b;
  ++cache.kept[c];
}

}  // namespace jobrelay::http::detail
