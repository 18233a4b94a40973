#pragma once
#include <string_view>
namespace jobrelay {
inline constexpr std::string_view version = "0.1.0";
}
