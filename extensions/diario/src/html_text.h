#pragma once

// The text of an HTML fragment (a DJEN publication's `texto`), through
// libxml2's HTML parser: the only file with libxml2 headers here.

#include <string>
#include <string_view>

namespace fila::diario {

// Text nodes in document order, entities decoded; a line break for <br>
// and after each p, div, tr and li, a space after each td and th; CR, CR LF
// and form feeds become one line break. Tolerant of broken markup (what
// libxml2 recovers), never fetches anything, no recursion.
std::string HtmlToText(std::string_view html);

}  // namespace fila::diario
