#include "jobrelay/http/field_allocator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "jobrelay/http/message.hpp"

using jobrelay::http::field_allocator;

TEST(FieldAllocator, AFreedBlockIsHandedOutAgainForAnyRequestOfItsSizeClass) {
  field_allocator<char> alloc;
  char* first = alloc.allocate(100);
  alloc.deallocate(first, 100);
  char* again = alloc.allocate(90);  // same class (up to 128 bytes)
  EXPECT_EQ(again, first);
  char* other = alloc.allocate(40);  // a smaller class: not that block
  EXPECT_NE(other, first);
  alloc.deallocate(other, 40);
  alloc.deallocate(again, 90);
}

TEST(FieldAllocator, BlocksBeyondTheLargestClassGoStraightToTheHeap) {
  field_allocator<char> alloc;
  char* big = alloc.allocate(4096);
  std::fill(big, big + 4096, 'x');
  alloc.deallocate(big, 4096);
  char* small = alloc.allocate(500);
  std::fill(small, small + 500, 'y');
  alloc.deallocate(small, 500);
}

TEST(FieldAllocator, AThreadThatEndsGivesItsCacheBackAndLateFreesStillWork) {
  field_allocator<char> alloc;
  char* from_worker = nullptr;
  std::thread worker([&] {
    for (int i = 0; i < 300; ++i)
      alloc.deallocate(alloc.allocate(60), 60);  // cached, then freed at exit
    from_worker = alloc.allocate(60);
  });
  worker.join();
  alloc.deallocate(from_worker, 60);  // freed on another thread: joins this one's cache
  std::thread late([&] {
    char* p = alloc.allocate(200);
    alloc.deallocate(p, 200);
  });
  late.join();
}

TEST(FieldAllocator, MessagesKeepTheirFieldsThroughCopiesAndMoves) {
  jobrelay::http::response res{jobrelay::http::status::accepted, 11};
  res.set(jobrelay::http::field::cache_control, "no-store");
  res.set(jobrelay::http::field::etag, "\"3\"");
  res.set(jobrelay::http::field::retry_after, "1");
  res.set("X-Long", std::string(2000, 'v'));  // past the largest class
  auto copy = res;
  auto moved = std::move(res);
  for (const auto* m : {&copy, &moved}) {
    EXPECT_EQ((*m)[jobrelay::http::field::cache_control], "no-store");
    EXPECT_EQ((*m)[jobrelay::http::field::etag], "\"3\"");
    EXPECT_EQ((*m)[jobrelay::http::field::retry_after], "1");
    EXPECT_EQ((*m)["X-Long"].size(), 2000u);
  }
}
