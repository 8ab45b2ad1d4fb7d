// `linetime-control --check-config FILE` (and `linetimectl check-config`).
#pragma once

#include <string>

namespace linetime::control {

// Prints the diagnostics and a summary; returns the exit status (1 on errors).
int check_config(const std::string& path);

}  // namespace linetime::control
