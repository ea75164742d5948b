// `console-gw replay FILE`: a session recording (recording.hpp) served to
// noVNC as if it were the console, read-only. The console page and noVNC are
// served as the gateway serves them (responses.hpp, static_files.hpp); any
// WebSocket upgrade gets the recording: what the browser was sent, at the times
// it was sent (divided by the speed), from the RFB handshake the gateway
// offered on. What the browser sends back is read and dropped, so its RFB
// replies, keys and pointer change nothing. After the last frame the socket
// stays open, so the last picture stays on screen until the page is closed.
#pragma once

#include "gateway/cli.hpp"

namespace cgw::gateway {

// Serves until SIGINT or SIGTERM; prints the URL to open on stdout. Returns
// the exit status (2, after one line on stderr, for a file that is not a
// VNC recording or an address it cannot listen on).
int run_replay(const ReplayCommand& command);

}  // namespace cgw::gateway
