// fila-test-register-type FILE: registers the task type FILE defines (a
// fila.v1.TaskTypeDefinition in protobuf JSON) in FILA_DATABASE_URL and
// prints its version. The example runners use it until they can use
// `fila types apply`; it goes through the same store and checks.
#include <fstream>
#include <iostream>
#include <sstream>

#include "fila/api_codec.h"
#include "fila/errors.h"
#include "fila/type_definition.h"
#include "fila/type_store_pg.h"
#include "fila/v1/types.pb.h"

int main(int argc, char** argv) {
  const char* url = std::getenv("FILA_DATABASE_URL");
  if (argc != 2 || url == nullptr) {
    std::cerr << "usage: FILA_DATABASE_URL=... fila-test-register-type DEFINITION.json\n";
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    fila::v1::TaskTypeDefinition d;
    fila::api::Decode(fila::api::Format::kJson, text.str(), d);
    (void)fila::SpecFromDefinition(d.SerializeAsString());  // checked before it is stored
    auto [stored, created] = fila::MakePostgresTypeStore(url)->Apply(d.SerializeAsString());
    std::cout << fila::SpecFromDefinition(stored).version << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fila-test-register-type: " << e.what() << "\n";
    return 1;
  }
}
