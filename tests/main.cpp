// The one Catch2 main for lumen_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
