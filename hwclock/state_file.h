// Small state files the daemon keeps across restarts (the drift file, the
// rtcfile): written atomically — a temporary file in the same directory,
// fsync, rename over the old file, fsync of the directory — so a crash or a
// failed write leaves the previous file as it was.
#pragma once

#include <string>
#include <string_view>

namespace linetime::hwclock {

// The directory part of `path` ("." when there is none).
std::string directory_of(const std::string& path);

// Writes `content` to `path` through `temp_path` (in the same directory).
// Returns an empty string on success, else a message for the operator:
// "cannot write <what> <path> (<step>): <error> — make <dir> writable by the
// daemon's user (the previous <what>, if any, is unchanged)".
std::string write_state_file(const std::string& path, const std::string& temp_path, std::string_view content,
                             const std::string& what);

}  // namespace linetime::hwclock
