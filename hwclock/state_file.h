// Small state files the daemon keeps across restarts (the drift file, the
// rtcfile): written atomically — a temporary file in the same directory,
// fsync, rename over the old file, fsync of the directory — so a crash or a
// failed write leaves the previous file as it was.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetime::hwclock {

// What reading a state file gave: its text, or why not.
struct StateFileRead {
  std::string text;
  bool missing = false;  // ENOENT: normal on a first start
  int error = 0;         // errno of a failed open or read
  bool too_big = false;  // longer than the limit: not the file it should be
  bool ok() const { return !missing && error == 0 && !too_big; }
};

// Reads at most `max_bytes` of `path`.
StateFileRead read_state_file(const std::string& path, std::size_t max_bytes);

// The whitespace-separated words of a state file's text.
std::vector<std::string> state_file_words(std::string_view text);
// A word as a finite number, the whole word (strtod syntax), or nothing.
std::optional<double> state_file_number(const std::string& word);

// The directory part of `path` ("." when there is none).
std::string directory_of(const std::string& path);

// Writes `content` to `path` through `temp_path` (in the same directory).
// Returns an empty string on success, else a message for the operator:
// "cannot write <what> <path> (<step>): <error> — make <dir> writable by the
// daemon's user (the previous <what>, if any, is unchanged)".
std::string write_state_file(const std::string& path, const std::string& temp_path, std::string_view content,
                             const std::string& what);

}  // namespace linetime::hwclock
