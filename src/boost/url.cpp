// Boost.URL is header-only in 1.81 when this is included in exactly one TU.
#include <boost/url/src.hpp>
