#include "tests/support/tokens.hpp"

#include "token/token.hpp"

namespace cgw::test {

std::string mint_token(const std::string& key_file, const std::string& host_id,
                       const std::string& uuid) {
  token::MintRequest request;
  request.host_id = host_id;
  request.uuid = uuid;
  return token::mint(token::SigningKey::load_file(key_file), request);
}

std::unique_ptr<WsClient> console_client(std::uint16_t port, const std::string& token) {
  WsOptions o;
  o.port = port;
  o.target = "/websockify?token=" + token;
  return WsClient::connect(o);
}

}  // namespace cgw::test
