// The suite-wide check that no token, secret or private key reaches a log.
//
// When CGW_TEST_LOG_ARCHIVE names a directory (scripts/test sets it), every
// test's scratch directory has its *.log files copied there before it is
// removed, and every token and secret a test uses is appended to
// <archive>/secrets.txt. scripts/check-test-logs then greps the archived logs
// of the whole suite for each of them. Without the variable both do nothing.
#pragma once

#include <filesystem>
#include <string_view>

namespace cgw::test {

// Copies the *.log files below `dir` into the archive.
void archive_logs(const std::filesystem::path& dir);

// Remembers a token, secret or password the test used (one line; empty is ignored).
void record_secret(std::string_view secret);

// Records the token in a request target ("...?token=X&..."), a cookie
// ("token=X") or a WebSocket subprotocol list, when there is one.
void record_tokens_in(std::string_view text);

// Records the console passwords (passwd='…') in a domain's XML.
void record_passwords_in(std::string_view xml);

}  // namespace cgw::test
