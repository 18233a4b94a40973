#include "jobrelay/api/compression.hpp"

#include <zlib.h>

#include <cctype>

#include "jobrelay/fixed_code_gzip.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::api {

bool accepts_gzip(std::string_view header) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto item = trim_ows(header.substr(0, comma));
    header = comma == header.npos ? std::string_view{} : header.substr(comma + 1);
    const auto semi = item.find(';');
    const auto coding = trim_ows(item.substr(0, semi));
    if (!iequals_ascii(coding, "gzip") && !iequals_ascii(coding, "x-gzip") && coding != "*")
      continue;
    if (semi == item.npos) return true;
    auto param = trim_ows(item.substr(semi + 1));
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      const auto q = trim_ows(param.substr(2));
      // q=0, q=0.0, q=0.000 refuse; anything else accepts.
      bool zero = !q.empty() && q[0] == '0';
      for (std::size_t i = 1; zero && i < q.size(); ++i) zero = q[i] == '.' || q[i] == '0';
      return !zero;
    }
    return true;
  }
  return false;
}

namespace {

// One deflate state per thread, reset between documents: deflateInit
// allocates ~270 KB (window, hash chains) and deflateEnd frees it, which for
// a 1 KB document cost more than the compression (bench/README.md).
class deflater {
 public:
  deflater() {
    // windowBits 15 + 16: a gzip wrapper rather than raw zlib. memLevel 4:
    // deflateReset clears the hash table, 4 KB here instead of 64 KB at the
    // default 8, and documents of a few KB compress about as well.
    ok_ = deflateInit2(&zs_, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 4, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~deflater() {
    if (ok_) deflateEnd(&zs_);
  }
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  std::optional<std::string> compress(std::string_view data) {
    if (!ok_ || deflateReset(&zs_) != Z_OK) return std::nullopt;
    // Deflated into scratch space of the worst-case size, then copied out at
    // its real size: a finished job keeps its compressed document for
    // result_ttl, and a string resized down keeps the worst-case capacity
    // (~2x the compressed size for a 1 KB document).
    scratch_.resize(deflateBound(&zs_, static_cast<uLong>(data.size())));
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs_.avail_in = static_cast<uInt>(data.size());
    zs_.next_out = reinterpret_cast<Bytef*>(scratch_.data());
    zs_.avail_out = static_cast<uInt>(scratch_.size());
    const int rc = deflate(&zs_, Z_FINISH);
    if (rc != Z_STREAM_END) return std::nullopt;
    std::string out(scratch_.data(), zs_.total_out);
    if (scratch_.capacity() > max_kept_buffer_bytes) release_storage(scratch_);  // a rare big one
    return out;
  }

 private:
  z_stream zs_{};
  std::string scratch_;
  bool ok_ = false;
};

}  // namespace

std::optional<std::string> gzip(std::string_view data) {
  // Up to 8 KiB, either encoding fits the first round trip of a fresh TCP
  // connection (ten segments), so the one that costs a fifth of the CPU wins;
  // zlib's smaller output pays off above that, and on data the fixed codes
  // cannot shrink.
  if (data.size() <= fixed_code_max_bytes) {
    thread_local std::string scratch;
    scratch.clear();
    append_fixed_code_gzip(scratch, data);
    if (scratch.size() < data.size())
      return std::string(scratch);  // copied at its size: see deflater
  }
  thread_local deflater d;
  return d.compress(data);
}

}  // namespace jobrelay::api
