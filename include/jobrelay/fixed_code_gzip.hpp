// gzip for small bodies, without zlib's per-document set-up.
//
// zlib spends ~2 us on any document (resetting its state, building and
// sending dynamic Huffman trees) and ~5 ns a byte at level 1: 8.5 us for a
// 1.2 KB job document, more CPU than the rest of the request, and ~10% of
// a job's CPU in bench D. This encoder writes one deflate block with the
// fixed Huffman codes (RFC 1951 3.2.6) and greedy matching on a 4-byte
// hash: 1.7 us for that document. The price is size: 878 bytes against
// zlib's 670, a difference that stays inside the same TCP round trip for
// bodies of a few KB (compression.hpp picks the encoder by size).
#pragma once

#include <string>
#include <string_view>

namespace jobrelay {

// Appends to `out` a complete gzip member (RFC 1952) of `data` (under 4 GiB:
// positions are 32-bit). Never fails; for incompressible data the member is
// up to 1/8 larger than `data`.
void append_fixed_code_gzip(std::string& out, std::string_view data);

}  // namespace jobrelay
