// gzip for answers over 1 KiB when the client accepts it (API.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jobrelay::api {

inline constexpr std::size_t gzip_min_bytes = 1024;
// Bodies up to this size are encoded with fixed Huffman codes (fixed_code_gzip.hpp).
inline constexpr std::size_t fixed_code_max_bytes = 8 * 1024;
// A per-thread buffer grown past this by a rare big document is released
// after it, not kept for the thread's lifetime.
inline constexpr std::size_t max_kept_buffer_bytes = 64 * 1024;

// True when Accept-Encoding lists gzip (or *) with a non-zero q.
bool accepts_gzip(std::string_view accept_encoding);

// A complete gzip member; nullopt only if zlib fails (then send identity).
std::optional<std::string> gzip(std::string_view data);

}  // namespace jobrelay::api
