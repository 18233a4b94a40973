#include "jobrelay/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace jobrelay::metrics {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_set(const std::vector<std::string>& names, const label_values& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  // Appended piece by piece: the concatenated temporaries this replaced drew
  // a GCC 12 -Wrestrict false positive.
  std::string out;
  const auto add = [&out](std::string_view name, std::string_view value) {
    out += out.empty() ? "{" : ",";
    out += name;
    out += "=\"";
    out += value;
    out += '"';
  };
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) add(names[i], escape_label_value(values[i]));
  if (!extra_name.empty()) add(extra_name, extra_value);
  if (!out.empty()) out += '}';
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      lines_per_stripe_((bounds_.size() + 2 + 7) / 8),
      lines_(detail::stripes * lines_per_stripe_) {
  std::sort(bounds_.begin(), bounds_.end());
}

void histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  const std::size_t stripe = detail::this_thread_stripe();
  cell(stripe, static_cast<std::size_t>(it - bounds_.begin()))
      .fetch_add(1, std::memory_order_relaxed);
  cell(stripe, bounds_.size() + 1)
      .fetch_add(static_cast<std::uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.cumulative.assign(bounds_.size() + 1, 0);
  std::uint64_t sum_micros = 0;
  for (std::size_t stripe = 0; stripe < detail::stripes; ++stripe) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i)
      s.cumulative[i] += cell(stripe, i).load(std::memory_order_relaxed);
    sum_micros += cell(stripe, bounds_.size() + 1).load(std::memory_order_relaxed);
  }
  for (std::size_t i = 1; i < s.cumulative.size(); ++i) s.cumulative[i] += s.cumulative[i - 1];
  s.count = s.cumulative.back();  // consistent with the +Inf bucket even while others observe
  s.sum = static_cast<double>(sum_micros) / 1e6;
  return s;
}

family<counter>& registry::counters(std::string name, std::string help, std::vector<std::string> labels) {
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "counter";
  e->counters = std::make_unique<family<counter>>(std::move(labels), [] { return std::make_unique<counter>(); });
  auto& f = *e->counters;
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(e));
  return f;
}

family<histogram>& registry::histograms(std::string name, std::string help,
                                        std::vector<std::string> labels, std::vector<double> bounds) {
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "histogram";
  e->histograms = std::make_unique<family<histogram>>(
      std::move(labels), [bounds] { return std::make_unique<histogram>(bounds); });
  auto& f = *e->histograms;
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(e));
  return f;
}

void registry::callback(std::string name, std::string help, std::string type,
                        std::vector<std::string> labels, std::function<std::vector<sample>()> read) {
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = std::move(type);
  e->callback_labels = std::move(labels);
  e->read = std::move(read);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(e));
}

std::string registry::expose() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " " + escape_help(e->help) + "\n";
    out += "# TYPE " + e->name + " " + e->type + "\n";
    if (e->counters) {
      e->counters->each([&](const label_values& v, const counter& c) {
        out += e->name + label_set(e->counters->label_names(), v) + " " +
               format_value(static_cast<double>(c.value())) + "\n";
      });
    } else if (e->histograms) {
      e->histograms->each([&](const label_values& v, const histogram& h) {
        const auto s = h.read();
        const auto& names = e->histograms->label_names();
        for (std::size_t i = 0; i < h.bounds().size(); ++i)
          out += e->name + "_bucket" + label_set(names, v, "le", format_value(h.bounds()[i])) + " " +
                 format_value(static_cast<double>(s.cumulative[i])) + "\n";
        out += e->name + "_bucket" + label_set(names, v, "le", "+Inf") + " " +
               format_value(static_cast<double>(s.cumulative.back())) + "\n";
        out += e->name + "_sum" + label_set(names, v) + " " + format_value(s.sum) + "\n";
        out += e->name + "_count" + label_set(names, v) + " " + format_value(static_cast<double>(s.count)) + "\n";
      });
    } else if (e->read) {
      for (const auto& smp : e->read())
        out += e->name + label_set(e->callback_labels, smp.labels) + " " + format_value(smp.value) + "\n";
    }
  }
  return out;
}

}  // namespace jobrelay::metrics
