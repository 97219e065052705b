#include "fila/test_support/amqp_admin.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <stdexcept>

namespace fila::test {

struct AmqpAdmin::Connection {
  amqp_connection_state_t state = nullptr;

  void Check(const std::string& what) const {
    if (amqp_get_rpc_reply(state).reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error("amqp admin: " + what + " failed");
  }
};

AmqpAdmin::AmqpAdmin(const std::string& amqp_url) : connection_(std::make_unique<Connection>()) {
  std::string scratch = amqp_url;  // amqp_parse_url writes into it
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(scratch.data(), &info) != AMQP_STATUS_OK)
    throw std::runtime_error("amqp admin: bad URL");
  amqp_connection_state_t state = amqp_new_connection();
  connection_->state = state;
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  timeval timeout{5, 0};
  if (socket == nullptr ||
      amqp_socket_open_noblock(socket, info.host, info.port, &timeout) != AMQP_STATUS_OK) {
    throw std::runtime_error("amqp admin: cannot connect");
  }
  // As the adapter reads "amqp://host/": the default vhost.
  const char* vhost = *info.vhost != '\0' ? info.vhost : "/";
  if (amqp_login(state, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password)
          .reply_type != AMQP_RESPONSE_NORMAL) {
    throw std::runtime_error("amqp admin: login failed");
  }
  amqp_set_rpc_timeout(state, &timeout);
  amqp_channel_open(state, 1);
  connection_->Check("channel.open");
}

AmqpAdmin::~AmqpAdmin() {
  if (connection_->state == nullptr) return;
  amqp_connection_close(connection_->state, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(connection_->state);
}

uint32_t AmqpAdmin::Ready(const std::string& logical) {
  const std::string physical = "fila." + logical;
  const amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(connection_->state, 1, amqp_cstring_bytes(physical.c_str()),
                         /*passive=*/1, 0, 0, 0, amqp_empty_table);
  connection_->Check("queue.declare passive " + physical);
  return ok->message_count;
}

uint32_t AmqpAdmin::Purge(const std::string& logical) {
  const std::string physical = "fila." + logical;
  const amqp_queue_purge_ok_t* ok =
      amqp_queue_purge(connection_->state, 1, amqp_cstring_bytes(physical.c_str()));
  connection_->Check("queue.purge " + physical);
  return ok->message_count;
}

void AmqpAdmin::Delete(const std::string& logical) {
  const std::string physical = "fila." + logical;
  amqp_queue_delete(connection_->state, 1, amqp_cstring_bytes(physical.c_str()), /*if_unused=*/0,
                    /*if_empty=*/0);
  connection_->Check("queue.delete " + physical);
}

}  // namespace fila::test
