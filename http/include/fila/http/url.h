#pragma once

#include <string>
#include <string_view>

namespace fila {

// `text` percent-encoded for one segment or query value of a URL: every
// byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex), as
// curl_easy_escape does.
std::string EscapeUrlPart(std::string_view text);

}  // namespace fila
